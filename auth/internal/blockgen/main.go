// Command blockgen writes auth's embedded blocklist of common passwords
// (blocklist.txt.gz): widely published most-common passwords, factory
// defaults seen in IoT botnet dictionaries, keyboard walks and number
// sequences, expanded with the suffixes people append to reach a length
// rule. Run it with `go generate ./auth`.
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"sort"
	"strings"
)

// bases are common passwords and the words they are built from.
var bases = strings.Fields(`
123456 123456789 12345678 12345 1234567 1234567890 1234 111111 000000 123123 654321 666666 121212
112233 123321 131313 159753 987654321 7777777 777777 555555 888888 999999 11111111 00000000 1111
0000 2222 4321 54321 1q2w3e 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx qazwsx qwerty qwertyuiop qwerty123
asdfgh asdfghjkl zxcvbn zxcvbnm qwer1234 abc123 abcd1234 a1b2c3 aa123456 password passw0rd p@ssw0rd
p@ssword pass pass123 passwort motdepasse contrasena senha wachtwoord haslo salasana parola password1
letmein welcome welcome1 login admin admin1 admin123 administrator root toor guest user default
changeme change secret trustno1 master iloveyou loveyou lovely love princess sunshine shadow
dragon monkey football baseball basketball soccer hockey superman batman spiderman starwars pokemon
naruto minecraft fortnite michael jennifer jordan hunter buster harley tigger charlie robert thomas
daniel george andrew joshua matthew jessica ashley amanda nicole michelle maggie ginger pepper cheese
summer winter autumn spring freedom whatever killer hello hello123 computer internet google facebook
samsung apple iphone android mustang ferrari corvette porsche yamaha chelsea arsenal liverpool
barcelona realmadrid juventus yankees dallas cowboys lakers thunder matrix access flower diamond
silver golden orange banana chocolate cookie butterfly angel babygirl baby family friends forever
blessed jesus god heaven purple yellow red blue green black white 696969 qwertz azerty asdf1234
zxcv1234 1qazxsw2 q1w2e3r4 q1w2e3r4t5 mypassword yourpassword nopassword 123abc abcdef abcdefg
abcdefgh 123qwe qwe123 qweasd qweasdzxc asdasd zxczxc aaaaaa aaaaaaaa qqqqqq zzzzzz 147258369
147258 258369 963852741 741852963 159357 753951 246810 13579 135790 2468 1122334455 0123456789
iloveu ilovey0u loveme fuckyou fuckoff biteme asshole letmein1 trustme hellokitty whatever1
superstar rockstar princess1 sunshine1 football1 monkey1 dragon1 shadow1 master1 qwerty1 abc1234
charlie1 michael1 jordan23 pussy sexy ninja hacker pirate zombie cheater test test123 testing
demo sample guest123 user123 root123 support service supervisor operator manager system sysadmin
tech technician installer engineer maintenance debug factory setup config network wireless wifi
router modem camera webcam ipcam printer smart smarthome smartplug home homeassistant iot device
ubnt raspberry pi alpine vizxv xc3511 juantech xmhdipc hi3518 klv123 klv1234 anko zlxx jvbzd
meinsm smcadmin realtek 7ujmko0admin 7ujmko0vizxv zte521 ikwb dreambox fucker 666666 54321
hikvision dahua tplink dlink netgear linksys huawei zte cisco mikrotik ubiquiti asus synology
private public community letmeinnow openup opensesame password123 admin12345 administrator1
qwertyui asdfghjk zxcvbnm1 1234qwer qwer4321 1234abcd abcd4321 a123456 a12345678 q123456 qq123456
woaini 5201314 520520 1314520 zhang wang li chen liu 88888888 66666666 168168 gundam dragonball
marina natasha anastasia ivan sergey dmitry andrey alexander alex maria anna olga tatiana elena
carlos jose juan luis antonio francisco manuel pedro miguel javier mario giovanni francesca
hannover berlin london paris madrid roma tokyo newyork chicago boston toronto sydney melbourne
january february march april may june july august september october november december monday
friday sunday weekend holiday vacation beach ocean mountain river forest garden tiger lion eagle
wolf bear horse dolphin shark panther phoenix falcon warrior knight legend hero champion winner
victory lucky happy smile sweet honey sugar candy cherry peach mango lemon strawberry pineapple
coffee pizza burger bacon chicken soccer1 tennis golf cricket rugby boxing racing speed power
energy fire water earth wind storm rain snow ice star moon sun sky space galaxy universe planet
music guitar piano drums rock metal jazz blues dance party disco radio movie cinema theatre
school college student teacher doctor nurse police army navy marine pilot captain sergeant
mother father sister brother daughter son wife husband girlfriend boyfriend darling sweetheart
`)

// walks are keyboard walks and sequences that reach 15+ characters alone.
var walks = strings.Fields(`
qwertyuiopasdfgh qwertyuiopasdfghjkl qwertyuiopasdfghjklzxcvbnm 1q2w3e4r5t6y7u8i 1q2w3e4r5t6y7u8i9o0p
1qaz2wsx3edc4rfv 1qaz2wsx3edc4rfv5tgb zaq1xsw2cde3vfr4 qazwsxedcrfvtgbyhn 123456789012345
1234567890123456 12345678901234567890 098765432109876 abcdefghijklmno abcdefghijklmnop
abcdefghijklmnopqrstuvwxyz zyxwvutsrqponmlkjihgfedcba 111111111111111 000000000000000
123123123123123 123412341234123 qweasdzxcqweasdzxc asdfghjklasdfghjkl zxcvbnmzxcvbnm
correcthorsebatterystaple thequickbrownfox thequickbrownfoxjumpsoverthelazydog iloveyouforever
iloveyousomuch letmeinletmein passwordpassword password1234567 password12345678 password123456789
administrator123 administratoradmin adminadminadmin rootrootrootroot mypasswordismypassword
thisismypassword thisisapassword thisisnotmypassword changemechangeme welcomewelcome
welcome123456789 qwerty1234567890 1qaz2wsx3edc 1qazxsw23edc zaq12wsxcde3 q1w2e3r4t5y6u7i8o9p0
`)

var suffixes = []string{"", "1", "12", "123", "1234", "12345", "123456", "!", "!!", "1!", "123!", "@123",
	"01", "007", "69", "99", "2020", "2021", "2022", "2023", "2024", "2025", "2026", "000", "111", "321"}

func main() {
	set := map[string]bool{}
	for _, b := range bases {
		for _, s := range suffixes {
			set[b+s] = true
		}
		set[b+b] = true
		set[b+b+b] = true
	}
	for _, w := range walks {
		set[w] = true
	}
	var list []string
	for w := range set {
		if len(w) >= 4 && len(w) <= 64 {
			list = append(list, strings.ToLower(w))
		}
	}
	sort.Strings(list)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	for _, w := range list {
		fmt.Fprintln(zw, w)
	}
	zw.Close()
	out := "blocklist.txt.gz"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d entries, %d bytes\n", len(list), buf.Len())
}
