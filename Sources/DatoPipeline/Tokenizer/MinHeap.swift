/// A binary min-heap: the smallest element first.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    /// The smallest element, if any.
    var min: Element? { items.first }

    var isEmpty: Bool { items.isEmpty }

    mutating func insert(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest element.
    mutating func popMin() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let smallest = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smaller = parent
            if left < items.count, items[left] < items[smaller] { smaller = left }
            if right < items.count, items[right] < items[smaller] { smaller = right }
            guard smaller != parent else { break }
            items.swapAt(parent, smaller)
            parent = smaller
        }
        return smallest
    }
}
