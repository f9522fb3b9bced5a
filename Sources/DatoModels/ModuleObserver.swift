import DatoCore

/// Sees a module's output during one call: diffusers' module name (e.g. "down_blocks.1", "decoder.mid_block")
/// and the tensor, which is only valid during the call (copy it to keep it). For tests against diffusers'
/// intermediate outputs and for tracing; passed with each call, never stored on a model.
public typealias ModuleObserver = (String, Tensor) -> Void
