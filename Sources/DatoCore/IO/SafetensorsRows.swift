extension SafetensorsFile {
    /// Reads rows `rows` of tensor `name` (along its first dimension; the elements of a 1-D tensor) as fp32,
    /// without reading the rest: the slices of a stored tensor (e.g. q, k and v of a stacked projection)
    /// cost no more memory than the slices themselves.
    public func tensor(_ name: String, rows: Range<Int>) throws -> Tensor {
        guard let e = entries[name] else {
            throw SafetensorsError(.missingTensor, file: path, tensor: name, "no such tensor in the file")
        }
        guard let first = e.shape.first, rows.lowerBound >= 0, rows.upperBound <= first, !rows.isEmpty else {
            throw SafetensorsError(.badEntry, file: path, tensor: name, "rows \(rows) are outside its shape \(e.shape)")
        }
        // The header check bounded the entry's bytes, so the row size is bytes / rows.
        let rowBytes = (e.end - e.begin) / first
        let part = Entry(name: e.name, dtype: e.dtype, shape: [rows.count] + e.shape.dropFirst(),
                         begin: e.begin + rows.lowerBound * rowBytes, end: e.begin + rows.upperBound * rowBytes)
        return try tensor(part)
    }
}
