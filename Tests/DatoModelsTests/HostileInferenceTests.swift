import DatoCore
@testable import DatoModels
import Foundation
import XCTest

/// Architecture inference and key mapping on shapes and keys built to break them: 1-D tensors where
/// matrices belong, huge block indices, sizes no model has. Each gives an error naming the tensor.
final class HostileInferenceTests: XCTestCase {
    let source = "/models/hostile.safetensors"
    let unet = LDMKeyMap.unetPrefix, vae = LDMKeyMap.vaePrefix, text = LDMKeyMap.textPrefix

    /// The shapes of a real (tiny) single-file checkpoint.
    var valid: [String: [Int]] {
        get throws { try SafetensorsFile(path: Fixtures.path("single-file", "tiny-sd.safetensors")).shapes }
    }

    func expectRefused(_ shapes: [String: [Int]], naming words: String..., file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ArchitectureInference.configs(shapes: shapes, source: source), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is ModelError, text, file: file, line: line)
            XCTAssertTrue(text.contains(source), text, file: file, line: line)
            for w in words { XCTAssertTrue(text.contains(w), "'\(w)' not in: \(text)", file: file, line: line) }
        }
    }

    func testValidShapesAreInferred() throws {
        let c = try ArchitectureInference.configs(shapes: try valid, source: source)
        XCTAssertEqual(c.unet.blockOutChannels, try UNetConfig.load(Fixtures.path("unet-sdlike", "config.json")).blockOutChannels)
        XCTAssertGreaterThan(c.textEncoder.numHiddenLayers, 0)
    }

    /// Indexing `[1]` of 1-D tensors used to trap.
    func testOneDimensionalTensorsAreRefused() throws {
        let keys = [unet + "input_blocks.0.0.weight", unet + "out.2.weight", unet + "input_blocks.1.0.out_layers.3.weight",
                    vae + "encoder.conv_in.weight", vae + "decoder.conv_in.weight", vae + "decoder.conv_out.weight",
                    vae + "encoder.down.0.block.0.conv2.weight", text + "embeddings.token_embedding.weight",
                    text + "embeddings.position_embedding.weight", text + "encoder.layers.0.mlp.fc1.weight"]
        for key in keys {
            for bad in [[4], [], [4, 0, 3, 3]] {
                var shapes = try valid
                XCTAssertNotNil(shapes[key], key)
                shapes[key] = bad
                expectRefused(shapes, naming: "'\(key)'")
            }
        }
        var shapes = try valid
        let toK = shapes.keys.first { $0.hasPrefix(unet) && $0.hasSuffix("attn2.to_k.weight") }!
        shapes[toK] = [8]
        expectRefused(shapes, naming: "'\(toK)'")
    }

    /// A block index of 2^63-1 used to overflow; signs and other non-digits are not indices either.
    func testHugeBlockIndicesAreRefused() throws {
        for index in ["9223372036854775807", "10001", "-1", "+3", "99999999999999999999999"] {
            var shapes = try valid
            let key = unet + "input_blocks.\(index).0.weight"
            shapes[key] = [4, 4, 3, 3]
            expectRefused(shapes, naming: "'\(key)'", "block index")
            var transformer = try valid
            let tkey = unet + "input_blocks.1.1.transformer_blocks.\(index).attn1.to_q.weight"
            transformer[tkey] = [4, 4]
            expectRefused(transformer, naming: "'\(tkey)'")
        }
    }

    /// Sizes beyond sane model bounds are refused before any model is built from them.
    func testHugeInferredSizesAreRefused() throws {
        var shapes = try valid
        let key = unet + "input_blocks.1.0.out_layers.3.weight"
        shapes[key] = [1_000_000_000, 1_000_000_000, 3, 3]
        expectRefused(shapes, naming: "'\(key)'")
        var wide = try valid
        let tok = text + "embeddings.token_embedding.weight"
        wide[tok] = [10_000_000, wide[tok]![1]]
        expectRefused(wide, naming: "'\(tok)'", "vocab_size")
        var many = try valid
        for i in 0..<300 { many[text + "encoder.layers.\(i).mlp.fc1.weight"] = many[text + "encoder.layers.0.mlp.fc1.weight"] }
        expectRefused(many, naming: "more than 256 layers")
        // A resnet convolution that does not keep its channel count cannot give the level's width.
        var skewed = try valid
        skewed[key] = [1_000_000, 1, 1, 1]
        expectRefused(skewed, naming: "'\(key)'")
    }

    /// Many levels and layers named by tiny tensors: the inferred networks would need far more weights than
    /// the file holds (and placeholders for all the missing ones), so inference refuses them.
    func testArchitectureLargerThanTheFileIsRefused() throws {
        var shapes = try valid.filter { !$0.key.hasPrefix(unet) }
        shapes[unet + "input_blocks.0.0.weight"] = [256, 4, 3, 3]
        shapes[unet + "out.2.weight"] = [4, 256, 3, 3]
        for level in 0..<16 {
            shapes[unet + "input_blocks.\(65 * level + 1).0.out_layers.3.weight"] = [256, 256, 3, 3]
            for k in (65 * level + 2)...(65 * level + 64) { shapes[unet + "input_blocks.\(k).0.in_layers.0.weight"] = [1] }
            shapes[unet + "input_blocks.\(65 * level + 65).0.op.weight"] = [1]
        }
        let c = try? ArchitectureInference.unet(shapes, source: source)
        XCTAssertEqual(c?.layersPerBlock, 64)
        XCTAssertEqual(c?.blockOutChannels.count, 16)
        expectRefused(shapes, naming: "inferred UNet needs at least")
        // 200 text layers named by their fc1 alone.
        var text = try valid
        for i in 1..<200 { text[self.text + "encoder.layers.\(i).mlp.fc1.weight"] = [1] }
        expectRefused(text, naming: "inferred text encoder needs at least")
    }

    /// The key maps used to trap on `layersPerBlock` -1 or `Int.max` and on a level of `Int.min`.
    func testKeyMapsRefuseOutOfRangeNumbers() {
        XCTAssertNil(LDMKeyMap.unet("input_blocks.1.0.in_layers.0.weight", layersPerBlock: -1))
        XCTAssertNil(LDMKeyMap.unet("input_blocks.1.0.in_layers.0.weight", layersPerBlock: .max))
        XCTAssertNil(LDMKeyMap.unet("input_blocks.9223372036854775807.0.in_layers.0.weight", layersPerBlock: 2))
        XCTAssertNil(LDMKeyMap.unet("output_blocks.-9223372036854775808.0.in_layers.0.weight", layersPerBlock: 2))
        XCTAssertNil(LDMKeyMap.vae("encoder.up.-9223372036854775808.block.0.conv1.weight", levels: 4))
        XCTAssertNil(LDMKeyMap.vae("decoder.up.9223372036854775807.block.0.conv1.weight", levels: 4))
        XCTAssertEqual(LDMKeyMap.unet("input_blocks.1.0.in_layers.0.weight", layersPerBlock: 2), "down_blocks.0.resnets.0.norm1.weight")
        XCTAssertEqual(LDMKeyMap.vae("decoder.up.3.block.0.conv1.weight", levels: 4), "decoder.up_blocks.0.resnets.0.conv1.weight")
    }

    /// Loading a single file whose conv_in is 1-D: one error naming the file and the tensor.
    func testSingleFileWithOneDimensionalConvInIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-hostile-inf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let original = try SafetensorsFile(path: Fixtures.path("single-file", "tiny-sd.safetensors"))
        let key = unet + "input_blocks.0.0.weight"
        var tensors = try original.names.map { ($0, try original.tensor($0)) }
        tensors = tensors.map { $0.0 == key ? ($0.0, Tensor(shape: [4], values: [1, 2, 3, 4])) : $0 }
        let path = "\(dir)/hostile.safetensors"
        try SafetensorsWriter.write(tensors, to: path)
        XCTAssertThrowsError(try StableDiffusionModels(singleFile: path)) { error in
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("'\(key)'"), "\(error)")
        }
    }
}
