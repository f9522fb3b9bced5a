import DatoCore
import Foundation

/// The report files of a search, written into one output folder through `OutputFile`.
public enum FrontFiles {
    /// The files written, in this order.
    public static let names = ["front.json", "front.csv", "front.svg", "front.png"]

    /// Checks, before the search starts, that the report can be written: the folder exists and is writable,
    /// or can be created; none of the files is an existing folder, FIFO, device or socket.
    /// Throws `OutputFileError`; creates nothing.
    public static func check(folder: String) throws {
        try OutputFolder.check(folder)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else { return }
        for name in names { try OutputFile.check(path(name, in: folder)) }
    }

    /// Creates the folder if needed and writes the four files; all are encoded before the first is written.
    public static func write(all: [JournalEntry], front: [JournalEntry], references: [(String, JournalEntry)],
                             quality: String, cost: String, folder: String) throws {
        let contents = [Data(FrontReport.json(front, quality: quality, cost: cost).utf8),
                        Data(FrontReport.csv(front).utf8),
                        Data(FrontReport.svg(all: all, front: front, references: references, quality: quality).utf8),
                        try FrontPlot.png(all: all, front: front, references: references)]
        try OutputFolder.create(folder)
        for (name, data) in zip(names, contents) { try OutputFile.write(data, to: path(name, in: folder)) }
    }

    static func path(_ name: String, in folder: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}
