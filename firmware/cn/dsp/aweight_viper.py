"""A-weighting filter and block energy: the board's kernel (@micropython.viper, native
Xtensa code, 32-bit machine integers). It is the exact twin of cn.dsp.aweight.process:
same statements, same integer operations; every intermediate stays below 2**30 (bounds in
cn/dsp/aweight.py), so the 32-bit arithmetic never wraps and both give identical output.
Keep the two in step: tests/test_fw_noise.py turns this source back into plain Python and
checks it against the twin bit for bit on the VM (which has no viper: SyntaxError there).

Coefficients, state layout and units: see cn/dsp/aweight.py.
"""

import micropython


@micropython.viper
def process(buf: ptr32, n: int, st: ptr32, co: ptr32):
    c1 = co[0]
    q1 = co[1]
    r1 = q1 - 15
    c2 = co[2]
    q2 = co[3]
    r2 = q2 - 15
    c3 = co[4]
    q3 = co[5]
    r3 = q3 - 15
    a5 = co[6]
    qa5 = co[7]
    ra5 = qa5 - 15
    b5 = co[8]
    qb5 = co[9]
    rb5 = qb5 - 15
    a6 = co[10]
    qa6 = co[11]
    ra6 = qa6 - 15
    b6 = co[12]
    qb6 = co[13]
    rb6 = qb6 - 15
    x0 = st[0]
    y0 = st[1]
    x1 = st[2]
    y1 = st[3]
    x2 = st[4]
    y2 = st[5]
    x3 = st[6]
    y3 = st[7]
    x4 = st[8]
    y4 = st[9]
    x5 = st[10]
    y5 = st[11]
    peak = 0
    for i in range(n):
        x = int(buf[i]) >> 6
        # high-pass 20.6 Hz
        y = y0 + (x - x0) - ((((y0 >> 15) * c1) >> r1) + (((y0 & 0x7FFF) * c1) >> q1))
        x0 = x
        y0 = y
        # high-pass 20.6 Hz
        v = y1 + (y - x1) - ((((y1 >> 15) * c1) >> r1) + (((y1 & 0x7FFF) * c1) >> q1))
        x1 = y
        y1 = v
        # high-pass 107.7 Hz
        y = y2 + (v - x2) - ((((y2 >> 15) * c2) >> r2) + (((y2 & 0x7FFF) * c2) >> q2))
        x2 = v
        y2 = y
        # high-pass 737.9 Hz
        v = y3 + (y - x3) - ((((y3 >> 15) * c3) >> r3) + (((y3 & 0x7FFF) * c3) >> q3))
        x3 = y
        y3 = v
        # low-pass 1
        y = (v + ((((x4 >> 15) * b5) >> rb5) + (((x4 & 0x7FFF) * b5) >> qb5))
             + ((((y4 >> 15) * a5) >> ra5) + (((y4 & 0x7FFF) * a5) >> qa5)))
        x4 = v
        y4 = y
        # low-pass 2
        v = (y + ((((x5 >> 15) * b6) >> rb6) + (((x5 & 0x7FFF) * b6) >> qb6))
             + ((((y5 >> 15) * a6) >> ra6) + (((y5 & 0x7FFF) * a6) >> qa6)))
        x5 = y
        y5 = v
        buf[i] = v
        if v < 0:
            v = -v
        if v > peak:
            peak = v
    st[0] = x0
    st[1] = y0
    st[2] = x1
    st[3] = y1
    st[4] = x2
    st[5] = y2
    st[6] = x3
    st[7] = y3
    st[8] = x4
    st[9] = y4
    st[10] = x5
    st[11] = y5
    st[12] = peak
    r = 0
    while (peak >> r) > 2047:
        r += 1
    acc = 0
    if r == 0:
        for i in range(n):
            v = buf[i]
            acc += v * v
    else:
        h = 1 << (r - 1)
        for i in range(n):
            v = (buf[i] + h) >> r
            acc += v * v
    st[13] = acc
    st[14] = r
