import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The input of a target whose entry point reads a file (`SafetensorsFile(path:)`, `PNGReader.read(path:)`, ...).
///
/// One temporary file, unlinked as soon as it is created, holds each input in turn; readers open it through
/// `/dev/fd/N`. Nothing is left on disk, not even after a crash, and no other file is ever written.
final class InputFile {
    /// The process's input file.
    static let shared = InputFile()

    private let fd: Int32
    /// The path that opens the current input.
    let path: String

    private init() {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array("\(folder)/dato-fuzz-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { FuzzTarget.violation("cannot create a temporary file in \(folder)") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        path = "/dev/fd/\(fd)"
    }

    /// Replaces the file's contents with `data` and returns the path to read it from.
    func holding(_ data: Data) -> String {
        guard ftruncate(fd, 0) == 0 else { FuzzTarget.violation("cannot truncate the input file") }
        var written = 0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            while written < raw.count {
                let n = pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(written))
                guard n > 0 else { FuzzTarget.violation("cannot write the input file") }
                written += n
            }
        }
        // On macOS /dev/fd/N shares this descriptor's offset.
        lseek(fd, 0, SEEK_SET)
        return path
    }
}
