package erase

import (
	"context"
	"fmt"
	"time"
)

// CryptoStore is what a crypto-erasable store offers: *secrets.Sealed
// satisfies it (Sealed.Erase destroys the KEK and the keyset before the
// envelopes; Sealed.VerifyErased checks that nothing is left).
type CryptoStore interface {
	Erase(ctx context.Context) error
	VerifyErased(ctx context.Context) error
}

// Crypto adapts a [CryptoStore] such as *secrets.Sealed to an [Eraser] with
// [Verifier] and Method [CryptoErase], named name. A reset erases it before
// any store that deletes.
//
//	reg.Add(erase.Crypto("secrets", sealed), erase.Secrets)
//
// If s also has List(ctx) ([]string, error), as *secrets.Sealed does, the
// receipt counts the secrets found before the erase.
func Crypto(name string, s CryptoStore) Eraser {
	if s == nil {
		panic("erase: Crypto with nil store")
	}
	return &cryptoStore{name: name, s: s}
}

type cryptoStore struct {
	name string
	s    CryptoStore
}

type lister interface {
	List(ctx context.Context) ([]string, error)
}

func (c *cryptoStore) Name() string   { return c.name }
func (c *cryptoStore) Method() Method { return CryptoErase }

func (c *cryptoStore) Erase(ctx context.Context) (StoreReceipt, error) {
	n := 0
	if l, ok := c.s.(lister); ok {
		if names, err := l.List(ctx); err == nil { // an erased store cannot list: nothing to count
			n = len(names)
		}
	}
	if err := c.s.Erase(ctx); err != nil {
		return StoreReceipt{}, fmt.Errorf("erase: store %s: %w", c.name, err)
	}
	return StoreReceipt{Store: c.name, Method: CryptoErase, Items: n, At: time.Now()}, nil
}

func (c *cryptoStore) Verify(ctx context.Context) error {
	if err := c.s.VerifyErased(ctx); err != nil {
		return fmt.Errorf("erase: store %s: %w", c.name, err)
	}
	return nil
}
