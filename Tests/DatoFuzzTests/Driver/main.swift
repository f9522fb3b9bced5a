// dato-fuzz: the fuzz targets of Tests/DatoFuzzTests/Targets under libFuzzer (see tools/fuzz/run.sh).
//
//   dato-fuzz TARGET [libFuzzer flags] [CORPUS_DIR...]   fuzz (built with -sanitize=fuzzer)
//   dato-fuzz TARGET FILE...                             replay inputs (libFuzzer runs each file once)
//   dato-fuzz --list                                     every target with its -max_len
//
// The target may also come from DATO_FUZZ_TARGET, which is how libFuzzer's child processes (-fork, -jobs)
// learn it. Without libFuzzer linked in, the arguments are replayed as files or folders of inputs.
import CDatoFuzzDriver
import Foundation

let targetVariable = "DATO_FUZZ_TARGET"

/// The target every input goes to.
nonisolated(unsafe) var selected: FuzzTarget?

/// libFuzzer's entry point: one input to the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let selected else { return 0 }
    selected.run(data.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

func usage() -> Never {
    let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: dato-fuzz TARGET [libFuzzer flags] [CORPUS_DIR | FILE]...\ntargets: \(names)\n".utf8))
    exit(2)
}

/// Runs every file named, or every file inside the folders named, through the target once.
func replay(_ paths: [String], _ target: FuzzTarget) -> Never {
    var files: [String] = []
    for path in paths {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { usage() }
        if isFolder.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files += names.sorted().map { "\(path)/\($0)" }
        } else {
            files.append(path)
        }
    }
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        print("\(target.name): \(file) (\(data.count) bytes)")
        target.run(data)
    }
    print("\(target.name): \(files.count) inputs replayed")
    exit(0)
}

var arguments = CommandLine.arguments
if arguments.count == 2, arguments[1] == "--list" {
    for target in FuzzTargets.all { print(target.name, target.maxLength) }
    exit(0)
}
var name = ProcessInfo.processInfo.environment[targetVariable]
if arguments.count > 1, FuzzTargets.named(arguments[1]) != nil {
    let given = arguments.remove(at: 1)
    setenv(targetVariable, given, 1)
    name = given
}
guard let name, let target = FuzzTargets.named(name) else { usage() }
selected = target

guard dato_fuzz_available() != 0 else { replay(Array(arguments.dropFirst()), target) }
var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var argc = CInt(arguments.count)
let status = cArguments.withUnsafeMutableBufferPointer { buffer -> CInt in
    var argv = buffer.baseAddress
    return dato_fuzz_run(&argc, &argv, fuzzOne)
}
exit(status)
