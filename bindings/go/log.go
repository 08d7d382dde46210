//go:build cgo

package stepca

// #include <stdint.h>
// #include "stepca.h"
//
// // Implemented in Go (callbacks.go).
// extern void stepcaGoLog(uintptr_t handle, stepca_log_level level, char *target, char *message);
//
// static void stepca_go_log_trampoline(void *user_data, stepca_log_level level, const char *target, const char *message) {
//   stepcaGoLog((uintptr_t)user_data, level, (char *)target, (char *)message);
// }
// static stepca_status stepca_go_set_log(stepca_log_level max, uintptr_t handle, stepca_error **e) {
//   return stepca_set_log_callback(max, handle ? stepca_go_log_trampoline : NULL, (void *)handle, e);
// }
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"sync"
)

// LevelTrace is the slog level of libstepca's most detailed records (rustls's handshake
// steps and the like), below slog.LevelDebug.
const LevelTrace = slog.LevelDebug - 4

var (
	logMu sync.Mutex
	// Every logger given stays reachable: a record may still be on its way to the
	// previous one when SetLogger returns.
	logHandles []cgo.Handle
)

// SetLogger sends libstepca's log records to logger, for the whole process: its own
// (target "stepca::http": each request and its answer, each retry and why;
// "stepca::renewer": renewal due, renewed, failed) and those of rustls, ureq and cryptoki.
// Each record carries the attribute "target". Only the levels logger is enabled for are
// asked of the library (LevelTrace for the most detailed). A nil logger stops logging.
// No record holds a token, key, password or PIN.
func SetLogger(logger *slog.Logger) error {
	logMu.Lock()
	defer logMu.Unlock()
	max, handle := C.stepca_log_level(C.STEPCA_LOG_OFF), cgo.Handle(0)
	if logger != nil {
		max = maxLevel(logger)
	}
	if max != C.STEPCA_LOG_OFF {
		handle = cgo.NewHandle(logger)
		logHandles = append(logHandles, handle)
	}
	return callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_go_set_log(max, C.uintptr_t(handle), e)
	})
}

// maxLevel is the most detailed libstepca level that logger wants.
func maxLevel(logger *slog.Logger) C.stepca_log_level {
	ctx := context.Background()
	for _, l := range []struct {
		slog slog.Level
		c    C.stepca_log_level
	}{
		{LevelTrace, C.STEPCA_LOG_TRACE},
		{slog.LevelDebug, C.STEPCA_LOG_DEBUG},
		{slog.LevelInfo, C.STEPCA_LOG_INFO},
		{slog.LevelWarn, C.STEPCA_LOG_WARN},
		{slog.LevelError, C.STEPCA_LOG_ERROR},
	} {
		if logger.Enabled(ctx, l.slog) {
			return l.c
		}
	}
	return C.STEPCA_LOG_OFF
}

func slogLevel(l C.stepca_log_level) slog.Level {
	switch l {
	case C.STEPCA_LOG_ERROR:
		return slog.LevelError
	case C.STEPCA_LOG_WARN:
		return slog.LevelWarn
	case C.STEPCA_LOG_INFO:
		return slog.LevelInfo
	case C.STEPCA_LOG_DEBUG:
		return slog.LevelDebug
	}
	return LevelTrace
}
