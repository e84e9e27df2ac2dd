// Package testkit is the one home of the helpers every module's tests
// share, so that no test package keeps its own copy:
//
//   - Eventually and EventuallyErr poll a condition until it holds or a
//     deadline passes, and then fail the test saying what was awaited, for
//     how long and what was last observed. The deadline only stops a broken
//     test from hanging; it asserts nothing about speed. Await does the
//     same from a goroutine that must not fail the test, returning an
//     error instead.
//   - SyncBuffer is a log sink a service's goroutines and the test share.
//   - FreePort and FreeAddr pick loopback ports through libs/freeport,
//     never by binding port 0 and reusing the number.
//   - Go runs a service's run function in the background and stops it when
//     the test ends; StartProcess does the same for a binary; Serve starts
//     an HTTP handler; WaitHTTP waits until a URL answers a status.
//
// The wait bound is DefaultTimeout, multiplied by the environment variable
// TESTKIT_TIMEOUT_SCALE (e.g. 3 on a slow CI machine), and never past the
// test binary's own -timeout: a wait that would outlive it fails first, so
// the failure names the condition instead of a goroutine dump.
package testkit
