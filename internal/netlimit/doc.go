// Package netlimit bounds what one listener may hold open: at most a fixed
// number of connections, each counted, so that a flood of idle visitors
// costs a refused connection each instead of the process's file
// descriptors, which it shares with the store.
package netlimit
