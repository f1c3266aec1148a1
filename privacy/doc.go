// Package privacy makes what a device says about personal data and what it
// does come from one declaration.
package privacy
