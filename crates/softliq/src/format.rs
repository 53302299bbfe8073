//! Number formatting for human-readable tables. JSON output keeps exact decimal strings.

/// `text` (an exact decimal) cut to `places` decimals with thousands separators: "24,750.00".
/// Truncates rather than rounds, so a shown value is never more than the exact one.
pub fn grouped(text: &str, places: usize) -> String {
    let (int_part, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut out = String::new();
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if places > 0 {
        let frac: String = frac
            .chars()
            .chain(std::iter::repeat('0'))
            .take(places)
            .collect();
        out.push('.');
        out.push_str(&frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_truncation() {
        assert_eq!(grouped("24750", 2), "24,750.00");
        assert_eq!(grouped("1234567.891", 2), "1,234,567.89");
        assert_eq!(grouped("0.999", 2), "0.99");
        assert_eq!(grouped("999", 0), "999");
    }
}
