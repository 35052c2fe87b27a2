"""Signal processing for the noise node: A-weighting kernel and level statistics.

kernel() picks the board's viper kernel when this MicroPython can compile it, else the
plain-Python twin (the WebAssembly VM used by the tests has no native emitter)."""


def kernel():
    """(process function, 'viper' or 'python')."""
    try:
        from cn.dsp import aweight_viper

        return aweight_viper.process, "viper"
    except (SyntaxError, ImportError, NotImplementedError):
        from cn.dsp import aweight

        return aweight.process, "python"
