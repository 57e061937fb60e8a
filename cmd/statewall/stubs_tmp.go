package main

import (
	"fmt"
	"os"
)

// Temporary stand-ins until check.go and replay.go land; delete this file
// then.

func runCheck([]string) int {
	fmt.Fprintln(os.Stderr, "statewall check: not built yet")
	return 2
}

func runReplay([]string) int {
	fmt.Fprintln(os.Stderr, "statewall replay: not built yet")
	return 2
}
