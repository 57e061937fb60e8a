package perf

import "github.com/statewall/statewall/dataplane/port"

type portFrame = port.Frame
