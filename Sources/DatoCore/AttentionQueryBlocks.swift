extension Attention {
    /// Runs `run(pair, block, worker)` on the thread pool for every query block of every (batch, head) pair
    /// (pair = b * heads + h), the schedule of the packed attention kernels. Without a probability map,
    /// consecutive items are blocks of one head, whose packed keys and values stay in the cache; with one
    /// (`writesProbabilityMap`), one item runs all heads of a query block in turn, since every head adds to the same
    /// rows of the map.
    static func forEachQueryBlock(batch: Int, heads: Int, blocks: Int, writesProbabilityMap: Bool,
                                  _ run: (_ pair: Int, _ block: Int, _ worker: Int) -> Void) {
        if writesProbabilityMap {
            Parallel.items(batch * blocks) { item, worker in
                let b = item / blocks
                for h in 0..<heads { run(b * heads + h, item % blocks, worker) }
            }
        } else {
            Parallel.items(batch * heads * blocks) { item, worker in run(item / blocks, item % blocks, worker) }
        }
    }
}
