@testable import DatoCore
@testable import DatoModels
import Foundation

/// Weight files: safetensors, and PyTorch `.ckpt` archives (the zip, the pickle, the whole checkpoint).
enum WeightsTargets {
    /// The most tensors one input has read (each is at most the input's size).
    static let tensorsRead = 16

    /// A whole safetensors file: `SafetensorsFile(path:)` (length field, header JSON, entries, offsets), then
    /// every tensor read as fp32.
    static func safetensors(_ data: Data) {
        guard let file = try? SafetensorsFile(path: InputFile.shared.holding(data)) else { return }
        for name in file.names.prefix(tensorsRead) {
            _ = try? file.tensor(name)
        }
    }

    /// The header parser alone, `SafetensorsFile.parseHeader` (entries, dtypes, shapes, offsets, overlaps), on the
    /// input as the JSON header of a file with a 1 MiB data section: fuzzing starts past the length field.
    static func safetensorsHeader(_ data: Data) {
        _ = try? SafetensorsFile.parseHeader(data, dataSize: 1 << 20, path: "fuzz.safetensors")
    }

    /// The zip reader: `ZipArchive(path:)` (end record, zip64 records, central directory), then the data
    /// range of every member, whose bytes are all read.
    static func zip(_ data: Data) {
        guard let archive = try? ZipArchive(path: InputFile.shared.holding(data)) else { return }
        var sum: UInt8 = 0
        for entry in archive.entries.values {
            guard let range = try? archive.range(of: entry) else { continue }
            guard range.lowerBound >= 0, range.upperBound <= archive.data.count else {
                FuzzTarget.violation("zip member '\(entry.name)' has range \(range) outside the \(archive.data.count)-byte file")
            }
            for byte in archive.data[range] { sum &+= byte }
        }
        _ = sum
    }

    /// The restricted unpickler on raw `data.pkl` bytes: `Unpickler(bytes:file:).run()`.
    static func unpickle(_ data: Data) {
        var unpickler = Unpickler(bytes: [UInt8](data), file: "fuzz.ckpt")
        _ = try? unpickler.run()
    }

    /// A whole `.ckpt`: `PickleCheckpoint(path:)` (zip, pickle, state dict), then its tensors read as fp32.
    static func checkpoint(_ data: Data) {
        guard let checkpoint = try? PickleCheckpoint(path: InputFile.shared.holding(data)) else { return }
        for name in checkpoint.shapes.keys.sorted().prefix(tensorsRead) {
            _ = try? checkpoint.tensor(name)
        }
    }

    /// A whole legacy (pre-1.6, non-zip) `torch.save` file: `LegacyTorchCheckpoint(path:)` (magic, header
    /// pickles, state dict, storage list, storage counts), then its tensors read as fp32.
    static func legacyCheckpoint(_ data: Data) {
        guard let checkpoint = try? LegacyTorchCheckpoint(path: InputFile.shared.holding(data)) else { return }
        for name in checkpoint.shapes.keys.sorted().prefix(tensorsRead) {
            _ = try? checkpoint.tensor(name)
        }
    }
}
