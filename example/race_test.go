//go:build race

package main

// raceEnabled: the test binary was built with -race, so the example
// binary the SIGTERM test builds is too (and its packages come from the
// same build cache).
const raceEnabled = true
