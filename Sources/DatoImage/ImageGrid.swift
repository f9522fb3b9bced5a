/// A labelled grid of equally sized RGB images: one row per prompt/seed, one column per plan.
public struct ImageGrid {
    public let columns: Int
    public let cellWidth: Int, cellHeight: Int
    public let labelHeight: Int
    private(set) public var pixels: [UInt8]
    public var width: Int { columns * cellWidth }
    public let height: Int

    /// A white grid for `rows x columns` cells of `cellWidth x cellHeight`, with a label band above each row.
    public init(rows: Int, columns: Int, cellWidth: Int, cellHeight: Int) {
        self.columns = columns
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
        let scale = max(1, cellWidth / 128)
        labelHeight = 7 * scale + 2
        height = rows * (cellHeight + labelHeight)
        pixels = [UInt8](repeating: 255, count: columns * cellWidth * height * 3)
    }

    /// Places an image (cellWidth x cellHeight RGB) at (row, column) with a label above it.
    public mutating func place(_ image: [UInt8], row: Int, column: Int, label: String) {
        let top = row * (cellHeight + labelHeight)
        let scale = max(1, cellWidth / 128)
        var text = label.uppercased()
        while BitmapFont.width(text, scale: scale) > cellWidth - 2 && !text.isEmpty { text.removeLast() }
        let w = width, h = height
        BitmapFont.draw(text, x: column * cellWidth + 1, y: top + 1, scale: scale, color: (0, 0, 0), into: &pixels, width: w, height: h)
        for y in 0..<cellHeight {
            let src = y * cellWidth * 3, dst = ((top + labelHeight + y) * w + column * cellWidth) * 3
            for i in 0..<(cellWidth * 3) { pixels[dst + i] = image[src + i] }
        }
    }
}
