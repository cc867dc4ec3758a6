#!/usr/bin/env node
// Thin launcher: the CLI runs as compiled JS (never through tsx), built by `npm ci`.
import '../dist/main.js'
