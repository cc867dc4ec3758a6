#!/usr/bin/env node
// Thin launcher: the chaos driver runs as compiled JS.
import '../dist/main.js'
