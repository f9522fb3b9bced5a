import CZlib

/// Inflates a zlib stream whose decompressed size is known in advance, never producing more: a stream that
/// would inflate to more bytes (a "zlib bomb") is refused as soon as the expected size is exceeded, after
/// decoding at most one byte past it.
enum BoundedInflate {
    enum Failure: Error, Equatable {
        /// The stream is corrupt (zlib's message).
        case corrupt(String)
        /// The stream ended after this many bytes.
        case short(Int)
        /// The stream holds more than the expected bytes.
        case long
    }

    /// Exactly `size` bytes inflated from `input`, which must be one complete zlib stream (bytes after its end
    /// are ignored).
    static func inflate(_ input: [UInt8], size: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure.corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: size)
        let spare = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        defer { spare.deallocate() }
        return try input.withUnsafeBufferPointer { inBuffer -> [UInt8] in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.avail_in = 0
            var fed = 0
            let produced = try output.withUnsafeMutableBufferPointer { out -> Int in
                stream.next_out = out.baseAddress
                stream.avail_out = 0
                var done = 0
                while true {
                    // Feed input and output in pieces that fit zlib's 32-bit counters.
                    if stream.avail_in == 0 && fed < inBuffer.count {
                        let n = min(inBuffer.count - fed, Int(Int32.max))
                        stream.avail_in = uInt(n); fed += n
                    }
                    let writingSpare = done == out.count
                    if stream.avail_out == 0 {
                        if writingSpare {
                            // Room for one byte more: any output there means the stream is too long.
                            stream.next_out = spare
                            stream.avail_out = 1
                        } else {
                            let n = min(out.count - done, Int(Int32.max))
                            stream.next_out = out.baseAddress.map { $0 + done }
                            stream.avail_out = uInt(n)
                        }
                    }
                    let before = Int(stream.avail_out)
                    let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let made = before - Int(stream.avail_out)
                    if writingSpare && made > 0 { throw Failure.long }
                    done += writingSpare ? 0 : made
                    switch rc {
                    case Z_STREAM_END: return done
                    case Z_OK: continue
                    case Z_BUF_ERROR:
                        // No progress possible: the input is used up before the stream's end.
                        if stream.avail_in == 0 && fed == inBuffer.count { throw Failure.short(done) }
                        continue
                    default:
                        throw Failure.corrupt(stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)")
                    }
                }
            }
            guard produced == size else { throw Failure.short(produced) }
            return output
        }
    }
}
