//! Input rules shared by the browser (early hints) and the server (the rule that counts).

/// Lower-cased, trimmed email, or a message saying what is wrong.
pub fn email(input: &str) -> Result<String, String> {
    let email = input.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err("Enter a valid email address, like name@example.com.".into())
    }
}

pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 256;

pub fn password(input: &str) -> Result<(), String> {
    let n = input.chars().count();
    if n < PASSWORD_MIN {
        Err(format!(
            "Use a password of at least {PASSWORD_MIN} characters."
        ))
    } else if n > PASSWORD_MAX {
        Err(format!(
            "Use a password of at most {PASSWORD_MAX} characters."
        ))
    } else {
        Ok(())
    }
}

pub fn display_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        Err("Enter your name.".into())
    } else if name.chars().count() > 80 || name.chars().any(char::is_control) {
        Err("Use a name of at most 80 ordinary characters.".into())
    } else {
        Ok(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn passwords() {
        assert!(password("short").is_err());
        assert!(password("long enough pw").is_ok());
        assert!(password(&"x".repeat(257)).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(display_name("  Ada ").unwrap(), "Ada");
        assert!(display_name("   ").is_err());
        assert!(display_name(&"n".repeat(81)).is_err());
    }
}
