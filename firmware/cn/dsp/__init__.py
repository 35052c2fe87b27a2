"""Signal processing for the noise node: A-weighting kernel and level statistics.

kernel() picks the board's viper kernel when this MicroPython can run it, else the
plain-Python twin: the WebAssembly VM has no native emitter (SyntaxError from source) and
cannot load native .mpy code (ValueError "native code in .mpy unsupported")."""


def kernel():
    """(process function, 'viper' or 'python')."""
    try:
        from cn.dsp import aweight_viper

        return aweight_viper.process, "viper"
    except (SyntaxError, ImportError, NotImplementedError, ValueError):
        from cn.dsp import aweight

        return aweight.process, "python"
