package iam

import "sync"

// PasswordChecks counts the password hashes s computed or verified, dummy
// ones included: tests use it to see that a login took the hashing path.
func PasswordChecks(s *Service) int64 { return s.passwords.checks.Load() }

// HoldPasswordSlots takes every hashing slot of s until the returned
// function is first called, as long-running checks would.
func HoldPasswordSlots(s *Service) (release func()) {
	n := cap(s.passwords.slots)
	for range n {
		s.passwords.slots <- struct{}{}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for range n {
				<-s.passwords.slots
			}
		})
	}
}
