#!/usr/bin/env node
// Thin launcher: benchmarks run as compiled JS (never through tsx), so figures are not skewed by a transpiler.
import '../dist/main.js'
