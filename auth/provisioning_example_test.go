package auth_test

import (
	"fmt"
	"os"

	"github.com/iotbaseline/baseline/auth"
)

// On first start, the device reads the record the factory wrote for it
// (`baseline provision`), checks that it was made for this model, and
// installs the verifier of the label's setup secret.
func ExampleDecodeProvisioningRecord() {
	f, err := os.Open("testdata/provisioning-record-v1.json")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	rec, err := auth.DecodeProvisioningRecord(f)
	if err != nil {
		fmt.Println(err) // names the bad field, never the verifier
		return
	}
	if rec.Model != "SP-100 Smart Plug" {
		fmt.Println("record made for another model")
		return
	}
	fmt.Println(rec.Serial, rec.DeviceID)
	// then: svc.Provision(ctx, rec.SetupVerifier)
	// Output: SP100-000001 f28295d156cd2c0ec515e31d30eb86af
}

// Factory tooling checks its serial scheme and model name against the rules
// a provisioning record must meet before it makes a batch.
func ExampleValidSerial() {
	for _, s := range []string{"SP100-000001", "-SP100", "SP100/01"} {
		fmt.Println(s, auth.ValidSerial(s))
	}
	fmt.Println(auth.ValidModel("SP-100 Smart Plug"), auth.ValidModel("Prise connectée 2"), auth.ValidModel(" leading space"))
	// Output:
	// SP100-000001 true
	// -SP100 false
	// SP100/01 false
	// true true false
}
