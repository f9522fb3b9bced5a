import CDatoDNNL
import Foundation

/// The kernel of an fp32 3x3 convolution that `FP32Winograd` could run, chosen at the layer's first call by the
/// input's size: swift-dato's Winograd F(2x2, 3x3) kernel below `FP32KernelChoice.winogradPixels` pixels (where
/// oneDNN 2.6 runs direct fp32 kernels: an SD UNet's two deepest levels), oneDNN otherwise (its Winograd
/// F(4x4, 3x3) kernels from 16x16 pixels up). The choice holds for the layer's life: both kernels compute any
/// size, so a later call at another size runs on the chosen one (the two round differently, by about 1e-6
/// relative), and the weights are held once, in one layout. Until the first call the layer holds a copy of its
/// plain weights, as oneDNN would. A long-lived process lets the model's native size choose by running it once
/// at that size first (`StableDiffusionPipeline.prepareKernels`, which `dato serve` does at start-up).
final class FP32KernelChoice: @unchecked Sendable {
    /// The chosen kernel.
    enum Kernel {
        case winograd(FP32Winograd)
        case onednn(DNNLWeights)
    }

    private enum State {
        /// A copy of the plain weights ([out, in, 3, 3]), outside the `BufferPool` (whose idle buffers stay
        /// resident): freed once the kernel has its own.
        case pending(UnsafeMutablePointer<Float>)
        case chosen(Kernel)
    }

    /// Inputs with fewer pixels (height x width) than this run on `FP32Winograd`: the size where oneDNN's own fp32
    /// Winograd kernels start (`dato_dnnl.c`, 256).
    static let winogradPixels = Int(dato_winograd_min_pixels())

    private var state: State
    private let shape: [Int]
    private let lock = NSLock()

    /// Holds a copy of `weight` ([out, in, 3, 3]) until the first call.
    init(weight: Tensor) {
        precondition(weight.shape.count == 4 && weight.dim(2) == 3 && weight.dim(3) == 3, "3x3 weights expected")
        shape = weight.shape
        let copy = UnsafeMutablePointer<Float>.allocate(capacity: weight.count)
        copy.initialize(from: weight.data, count: weight.count)
        state = .pending(copy)
    }

    deinit {
        if case .pending(let plain) = state { plain.deallocate() }
    }

    /// The kernel for the layer: the chosen one, or, at the first call, the one for inputs of `pixels` pixels.
    func kernel(pixels: Int) throws -> Kernel {
        lock.lock(); defer { lock.unlock() }
        switch state {
        case .chosen(let kernel):
            return kernel
        case .pending(let plain):
            let kernel: Kernel = pixels < Self.winogradPixels
                ? .winograd(FP32Winograd(weights: plain, outChannels: shape[0], inChannels: shape[1]))
                : .onednn(try DNNLWeights(conv: plain, shape: shape, precision: .fp32))
            state = .chosen(kernel)
            plain.deallocate()
            return kernel
        }
    }

    /// The chosen kernel's name, or nil before the first call.
    var chosenName: String? {
        lock.lock(); defer { lock.unlock() }
        if case .chosen(.winograd) = state { return "dato:winograd_fp32" }
        return nil
    }
}
