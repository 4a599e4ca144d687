// The hot path stackallocs scratch buffers it fully writes; zeroing them is wasted work.
[module: System.Runtime.CompilerServices.SkipLocalsInit]

