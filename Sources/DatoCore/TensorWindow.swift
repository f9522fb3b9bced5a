/// Rectangular windows of NHWC feature maps: copying one out, and writing one back.
extension Tensor {
    /// A copy of rows `top ..< top + height` and columns `left ..< left + width` of every image of this
    /// [B, H, W, C] tensor.
    public func crop(top: Int, left: Int, height: Int, width: Int) -> Tensor {
        precondition(shape.count == 4 && top >= 0 && left >= 0 && top + height <= dim(1) && left + width <= dim(2),
                     "crop \(top),\(left) \(height)x\(width) outside \(shape)")
        let c = dim(3)
        let out = Tensor(shape: [dim(0), height, width, c], zeroed: false)
        for b in 0..<dim(0) {
            for y in 0..<height {
                (out.data + ((b * height + y) * width) * c)
                    .update(from: data + ((b * dim(1) + top + y) * dim(2) + left) * c, count: width * c)
            }
        }
        return out
    }

    /// Writes the top-left `height x width` window of `source` ([B, h, w, C]) into this tensor at (top, left).
    public func paste(_ source: Tensor, top: Int, left: Int, height: Int, width: Int) {
        precondition(source.shape.count == 4 && shape.count == 4 && source.dim(0) == dim(0) && source.dim(3) == dim(3)
                     && height <= source.dim(1) && width <= source.dim(2)
                     && top + height <= dim(1) && left + width <= dim(2), "paste \(source.shape) into \(shape)")
        let c = dim(3)
        for b in 0..<dim(0) {
            for y in 0..<height {
                (data + ((b * dim(1) + top + y) * dim(2) + left) * c)
                    .update(from: source.data + ((b * source.dim(1) + y) * source.dim(2)) * c, count: width * c)
            }
        }
    }
}
