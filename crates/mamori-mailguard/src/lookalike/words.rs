//! Fixed tables: the QWERTY keyboard and the words that squatters put beside a brand.

/// The QWERTY rows as typed on Japanese (JIS) and US keyboards alike: both share the letter
/// and digit rows, which is all a domain name uses.
const ROWS: [&[u8]; 4] = [b"1234567890", b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];

fn position(key: char) -> Option<(usize, usize)> {
    let byte = u8::try_from(key).ok()?;
    for (row_index, row) in ROWS.iter().enumerate() {
        if let Some(column) = row.iter().position(|k| *k == byte) {
            return Some((row_index, column));
        }
    }
    None
}

/// Keys that touch on a QWERTY keyboard: beside each other on a row, or diagonally on the
/// rows above and below (each row is shifted half a key to the right of the one above, so a
/// key touches columns `c` and `c + 1` above and `c - 1` and `c` below).
pub(super) fn keyboard_neighbours(a: char, b: char) -> bool {
    let (Some((row_a, col_a)), Some((row_b, col_b))) = (position(a), position(b)) else {
        return false;
    };
    if row_a == row_b {
        return col_a.abs_diff(col_b) == 1;
    }
    if row_b + 1 == row_a {
        // b is on the row above a.
        return col_b == col_a || col_b == col_a + 1;
    }
    if row_a + 1 == row_b {
        // b is on the row below a.
        return col_b + 1 == col_a || col_b == col_a;
    }
    false
}

/// Words added to a brand by combosquatting (`example-login.com`, `mail-example.co.jp`,
/// `examplesupport.com`): the words of phishing campaigns (account, sign-in, payment, delivery)
/// and of Japanese corporate sites (holdings, recruit, group). A brand with one of these
/// attached is flagged even when the brand is short; with any other word only long brands or
/// hyphen-separated ones are (see `Protected::combosquatting`).
pub(super) const WORDS: &[&str] = &[
    "access",
    "account",
    "accounts",
    "admin",
    "agree",
    "alert",
    "app",
    "apps",
    "asia",
    "auth",
    "bank",
    "billing",
    "biz",
    "business",
    "card",
    "career",
    "careers",
    "cdn",
    "center",
    "choose",
    "claim",
    "click",
    "cloud",
    "co",
    "com",
    "confirm",
    "confirmation",
    "connect",
    "contact",
    "corp",
    "corporate",
    "cs",
    "customer",
    "delivery",
    "dev",
    "docs",
    "download",
    "drive",
    "email",
    "enroll",
    "file",
    "files",
    "find",
    "global",
    "group",
    "hd",
    "help",
    "helpdesk",
    "holdings",
    "http",
    "https",
    "id",
    "inc",
    "info",
    "install",
    "invoice",
    "ir",
    "japan",
    "jp",
    "jpn",
    "login",
    "logon",
    "mail",
    "member",
    "members",
    "my",
    "net",
    "news",
    "notice",
    "office",
    "official",
    "online",
    "owa",
    "password",
    "pay",
    "payment",
    "payments",
    "portal",
    "recovery",
    "recruit",
    "register",
    "reset",
    "safe",
    "secure",
    "security",
    "service",
    "services",
    "share",
    "shop",
    "signin",
    "signon",
    "signup",
    "ssl",
    "sso",
    "staff",
    "store",
    "summary",
    "support",
    "team",
    "token",
    "tokyo",
    "update",
    "user",
    "verification",
    "verify",
    "view",
    "vpn",
    "web",
    "webmail",
    "ww",
    "www",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_sorted_and_distinct() {
        assert!(WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn qwerty_neighbours() {
        for (key, neighbours) in [
            ('q', "12wa"),
            ('s', "wedxza"),
            ('g', "tyhbvf"),
            ('m', "njk"),
            ('0', "9po"),
        ] {
            for n in neighbours.chars() {
                assert!(keyboard_neighbours(key, n), "{key} {n}");
                assert!(keyboard_neighbours(n, key), "{n} {key}");
            }
        }
        assert!(!keyboard_neighbours('a', 'l'));
        assert!(!keyboard_neighbours('a', 'a'));
        assert!(!keyboard_neighbours('-', 'a'));
    }
}
