package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/rules"
)

func runCheck(args []string) int {
	return checkMain(args, os.Stdout, os.Stderr)
}

// checkMain validates a configuration and prints the compiled summary;
// every problem is printed as file:line: key: message, exit status 1.
func checkMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: statewall check -c config.toml")
		fs.PrintDefaults()
	}
	cfgPath := fs.String("c", "", "configuration file to check")
	quiet := fs.Bool("q", false, "print nothing when the file is good")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" && fs.NArg() == 1 {
		*cfgPath = fs.Arg(0)
	}
	if *cfgPath == "" {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rs, err := rules.Compile(cfg, 1)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
		return 1
	}
	if !*quiet {
		rs.Summary(stdout)
	}
	return 0
}
