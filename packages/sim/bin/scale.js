#!/usr/bin/env node
// Thin launcher: the scale run is compiled JS.
import '../dist/scale-main.js'
