/// Byte-pair merging of one word, with the reference tokenizers' result: while some adjacent pair of symbols
/// has a merge rank, the pair with the lowest rank is merged at each of its non-overlapping occurrences, left
/// to right, in one round.
///
/// The reference loop rescans the whole word for every round, O(n^2) for n symbols (a prompt word of 16,000
/// letters took seconds, one of 100,000 minutes). Words longer than `rescanLimit` symbols queue their candidate
/// pairs in a heap ordered by rank and position instead, O(n log n); shorter ones, nearly every real word, keep
/// the rescanning loop, which is faster for them (6 against 23 us for a typical prompt word).
enum BytePairMerge {
    /// The longest word merged by rescanning (the two ways take the same time at about 50 symbols).
    static let rescanLimit = 48

    /// The word's symbols after merging; `rank` gives a pair's merge priority (lower first), nil if it never merges.
    static func merge(_ symbols: [String], rank: (String, String) -> Int?) -> [String] {
        symbols.count <= rescanLimit ? rescanning(symbols, rank: rank) : queued(symbols, rank: rank)
    }

    /// Merging by rescanning the word for every round.
    static func rescanning(_ symbols: [String], rank: (String, String) -> Int?) -> [String] {
        var word = symbols
        while word.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0..<(word.count - 1) {
                if let r = rank(word[i], word[i + 1]), r < (best?.rank ?? Int.max) { best = (r, i) }
            }
            guard let best else { break }
            let first = word[best.index], second = word[best.index + 1]
            var merged: [String] = []
            var i = 0
            while i < word.count {
                if i < word.count - 1, word[i] == first, word[i + 1] == second {
                    merged.append(first + second)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        return word
    }

    /// The pair starting at symbol `left`, as it was when queued (stale once either symbol changed).
    struct Candidate: Comparable {
        let rank: Int, left: Int
        let first: String, second: String

        static func < (a: Candidate, b: Candidate) -> Bool { (a.rank, a.left) < (b.rank, b.left) }
        static func == (a: Candidate, b: Candidate) -> Bool { (a.rank, a.left) == (b.rank, b.left) }
    }

    /// Merging with the candidate pairs queued.
    static func queued(_ symbols: [String], rank: (String, String) -> Int?) -> [String] {
        var chain = Chain(symbols)
        var queue = MinHeap<Candidate>()
        func enqueue(_ left: Int) {
            guard let right = chain.next(left), let r = rank(chain.symbols[left], chain.symbols[right]) else { return }
            queue.insert(Candidate(rank: r, left: left, first: chain.symbols[left], second: chain.symbols[right]))
        }
        for left in symbols.indices { enqueue(left) }
        while let level = queue.min?.rank {
            // One round: every queued occurrence of the lowest-ranked pair, left to right.
            var round: [Candidate] = []
            while let candidate = queue.min, candidate.rank == level {
                round.append(candidate)
                _ = queue.popMin()
            }
            let merged = round.filter { chain.merge($0) }.map(\.left)
            // The pairs the new symbols form with their neighbours wait for a later round.
            for left in merged {
                if let before = chain.previous(left) { enqueue(before) }
                enqueue(left)
            }
        }
        return chain.remaining
    }

    /// The word's symbols as a doubly linked list over their original positions.
    struct Chain {
        var symbols: [String]
        private var nextIndex: [Int], previousIndex: [Int], alive: [Bool]

        init(_ symbols: [String]) {
            self.symbols = symbols
            nextIndex = Array(symbols.indices.map { $0 + 1 })
            previousIndex = Array(symbols.indices.map { $0 - 1 })
            alive = Array(repeating: true, count: symbols.count)
        }

        func next(_ i: Int) -> Int? { alive[i] && nextIndex[i] < symbols.count ? nextIndex[i] : nil }

        func previous(_ i: Int) -> Int? { alive[i] && previousIndex[i] >= 0 ? previousIndex[i] : nil }

        /// Merges the candidate's pair into its left symbol if the pair is still there; whether it was.
        mutating func merge(_ c: Candidate) -> Bool {
            guard let right = next(c.left), symbols[c.left] == c.first, symbols[right] == c.second else { return false }
            symbols[c.left] = c.first + c.second
            alive[right] = false
            nextIndex[c.left] = nextIndex[right]
            if nextIndex[right] < symbols.count { previousIndex[nextIndex[right]] = c.left }
            return true
        }

        /// The symbols still in the word, in order.
        var remaining: [String] { symbols.indices.filter { alive[$0] }.map { symbols[$0] } }
    }
}
