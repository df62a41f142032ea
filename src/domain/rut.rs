//! Chilean RUT (Rol Único Tributario): parse any common spelling, verify the check digit
//! (módulo 11), normalise to `12345678-5`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rut {
    body: u32,
    check: char,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RutError {
    #[error("the RUT is empty")]
    Empty,
    #[error("the RUT may only contain digits, dots, a dash and a final K")]
    InvalidCharacters,
    #[error("the RUT number has the wrong length")]
    WrongLength,
    #[error("the RUT check digit does not match")]
    WrongCheckDigit,
}

/// Check digit of a RUT body by módulo 11 with weights 2..7.
pub fn check_digit(body: u32) -> char {
    let mut sum = 0u32;
    let mut weight = 2;
    let mut n = body;
    while n > 0 {
        sum += (n % 10) * weight;
        n /= 10;
        weight = if weight == 7 { 2 } else { weight + 1 };
    }
    match 11 - (sum % 11) {
        11 => '0',
        10 => 'K',
        d => char::from_digit(d, 10).unwrap_or('0'),
    }
}

impl Rut {
    /// Accepts "12.345.678-5", "12345678-5", "123456785", "12 345 678 5" and k/K.
    pub fn parse(input: &str) -> Result<Rut, RutError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(RutError::Empty);
        }
        let mut chars: Vec<char> = Vec::with_capacity(trimmed.len());
        for c in trimmed.chars() {
            match c {
                '.' | '-' | ' ' | '\u{2010}' | '\u{2013}' => {}
                '0'..='9' => chars.push(c),
                'k' | 'K' => chars.push('K'),
                _ => return Err(RutError::InvalidCharacters),
            }
        }
        let Some(check) = chars.pop() else {
            return Err(RutError::Empty);
        };
        // A K anywhere but at the end is not a RUT.
        if chars.contains(&'K') {
            return Err(RutError::InvalidCharacters);
        }
        if chars.is_empty() || chars.len() > 8 {
            return Err(RutError::WrongLength);
        }
        let body: u32 = chars
            .iter()
            .collect::<String>()
            .parse()
            .map_err(|_| RutError::InvalidCharacters)?;
        if body < 100_000 {
            return Err(RutError::WrongLength);
        }
        if check_digit(body) != check {
            return Err(RutError::WrongCheckDigit);
        }
        Ok(Rut { body, check })
    }

    pub fn from_body(body: u32) -> Rut {
        Rut {
            body,
            check: check_digit(body),
        }
    }

    /// `12345678-5`: the canonical stored and indexed form.
    pub fn normalized(&self) -> String {
        format!("{}-{}", self.body, self.check)
    }

    /// `12.345.678-5`: the form people read.
    pub fn formatted(&self) -> String {
        let digits = self.body.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push('.');
            }
            out.push(c);
        }
        format!("{out}-{}", self.check)
    }
}

impl fmt::Display for Rut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_common_spelling() {
        for s in ["12.345.678-5", "12345678-5", "123456785", " 12 345 678 5 "] {
            let rut = Rut::parse(s).unwrap();
            assert_eq!(rut.normalized(), "12345678-5", "{s}");
            assert_eq!(rut.formatted(), "12.345.678-5");
        }
    }

    #[test]
    fn k_check_digit_in_either_case() {
        // 10.000.013-K is a valid RUT with check digit K.
        assert_eq!(check_digit(10_000_013), 'K');
        assert_eq!(Rut::parse("10000013-k").unwrap().normalized(), "10000013-K");
        assert_eq!(
            Rut::parse("10.000.013-K").unwrap().normalized(),
            "10000013-K"
        );
    }

    #[test]
    fn zero_check_digit() {
        let body = (1_000_000..1_100_000)
            .find(|b| check_digit(*b) == '0')
            .unwrap();
        assert!(Rut::parse(&format!("{body}0")).is_ok());
    }

    #[test]
    fn rejects_wrong_check_digit_and_garbage() {
        assert_eq!(Rut::parse("12.345.678-4"), Err(RutError::WrongCheckDigit));
        assert_eq!(Rut::parse(""), Err(RutError::Empty));
        assert_eq!(Rut::parse("abc"), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse("1K2345678"), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse("1234567890123"), Err(RutError::WrongLength));
        assert_eq!(Rut::parse("5"), Err(RutError::WrongLength));
    }

    #[test]
    fn from_body_round_trips() {
        for body in [1_000_000u32, 7_654_321, 23_456_789, 99_999_999] {
            let rut = Rut::from_body(body);
            assert_eq!(Rut::parse(&rut.formatted()), Ok(rut));
            assert_eq!(Rut::parse(&rut.normalized()), Ok(rut));
        }
    }
}
