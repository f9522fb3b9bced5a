import DatoCore

extension AutoencoderKL {
    /// Decodes large latents tile by tile, as diffusers' `AutoencoderKL.enable_tiling()` does, so the
    /// decoder's activations never exceed one tile's: tiles of `sample_size / factor` latent cells overlapping
    /// by a quarter, each decoded alone, then cross-faded linearly with the tile above and the tile to the left
    /// over a quarter of a tile's pixels and cropped. Latents that fit one tile are decoded whole.
    /// Tiles are decoded without keeping freed buffers for re-use (tiles of different shapes would each leave a
    /// set behind), so memory stays near one tile's.
    /// Latents [B, h, w, latent_channels] (already divided by the scaling factor) -> image [B, H, W, out].
    /// The tile geometry must close up: a tile's stride (three quarters of it, in latent cells) times the factor
    /// equals the pixels kept per tile, which holds when `sample_size` is a multiple of 4 x the factor (SD: 512);
    /// other sizes are refused rather than leaving gaps (or, below 4 x the factor, a zero stride).
    public func tiledDecode(_ latents: Tensor) throws -> Tensor {
        let tile = config.sampleSize / config.scaleFactor
        guard latents.shape.count == 4, latents.dim(1) > tile || latents.dim(2) > tile else { return try decode(latents) }
        let stride = Int(Double(tile) * 0.75), keep = config.sampleSize - Int(Double(config.sampleSize) * 0.25)
        guard stride >= 1, stride * config.scaleFactor == keep else {
            throw ModelError.config(file: "vae config", field: "sample_size",
                                    message: "\(config.sampleSize) does not split into tiles for tiled decoding (it must be a multiple of 4 x the VAE factor \(config.scaleFactor)); decode without tiling")
        }
        return try Memory.withoutPooling { try decodeTiles(latents, tile: tile) }
    }

    private func decodeTiles(_ latents: Tensor, tile: Int) throws -> Tensor {
        let f = config.scaleFactor
        let stride = Int(Double(tile) * 0.75), blend = Int(Double(config.sampleSize) * 0.25)
        let keep = config.sampleSize - blend
        let (h, w) = (latents.dim(1), latents.dim(2))
        var rows: [[Tensor]] = []
        for i in Swift.stride(from: 0, to: h, by: stride) {
            var row: [Tensor] = []
            for j in Swift.stride(from: 0, to: w, by: stride) {
                let decoded = try decode(latents.crop(top: i, left: j, height: min(tile, h - i), width: min(tile, w - j)))
                if let above = rows.last?[row.count] { Self.crossFade(from: above, into: decoded, extent: blend, vertical: true) }
                if let left = row.last { Self.crossFade(from: left, into: decoded, extent: blend, vertical: false) }
                row.append(decoded)
            }
            rows.append(row)
        }
        let out = Tensor(shape: [latents.dim(0), h * f, w * f, config.outChannels], zeroed: false)
        for (i, row) in rows.enumerated() {
            for (j, t) in row.enumerated() {
                let top = i * keep, left = j * keep
                out.paste(t, top: top, left: left,
                          height: min(keep, t.dim(1), out.dim(1) - top), width: min(keep, t.dim(2), out.dim(2) - left))
            }
        }
        return out
    }

    /// Fades the first `extent` rows (or columns) of `tile` in from the last `extent` rows (columns) of its
    /// neighbour `previous` above (left): weight y / extent on the tile's own values, in place.
    static func crossFade(from previous: Tensor, into tile: Tensor, extent: Int, vertical: Bool) {
        let axis = vertical ? 1 : 2, across = vertical ? 2 : 1
        precondition(previous.dim(across) == tile.dim(across), "neighbouring tiles \(previous.shape) and \(tile.shape)")
        let e = min(extent, previous.dim(axis), tile.dim(axis))
        let c = tile.dim(3)
        for b in 0..<tile.dim(0) {
            for k in 0..<e {
                let t = Float(k) / Float(e)
                for o in 0..<tile.dim(across) {
                    let (y, x) = vertical ? (k, o) : (o, k)
                    let (py, px) = vertical ? (previous.dim(1) - e + k, o) : (o, previous.dim(2) - e + k)
                    let dst = tile.data + ((b * tile.dim(1) + y) * tile.dim(2) + x) * c
                    let src = previous.data + ((b * previous.dim(1) + py) * previous.dim(2) + px) * c
                    for ch in 0..<c { dst[ch] = src[ch] * (1 - t) + dst[ch] * t }
                }
            }
        }
    }
}
