//! Stripe-shaped ids: a prefix and random alphanumerics. Below everything that makes ids, the
//! store (event ids) included.

/// `prefix` + `len` random alphanumerics, like Stripe's ids.
pub fn new_id(prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(len));
    id
}

/// The length of most ids after their prefix.
pub const ID_LEN: usize = 24;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("li_", ID_LEN);
        assert!(id.starts_with("li_"));
        assert_eq!(id.len(), 3 + ID_LEN);
        assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
