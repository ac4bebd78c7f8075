//! Tests of form decoding and of [`Params`] reads.

use super::*;

fn tree(input: &str) -> Node {
    parse(&[input.as_bytes()]).expect("parses")
}

fn leaf(s: &str) -> Node {
    Node::Leaf(s.to_owned())
}

#[test]
fn nested_keys_build_maps() {
    let t = tree("a[b][c]=v&a[b][d]=w&x=1");
    assert_eq!(t.get("x"), Some(&leaf("1")));
    let b = t.get("a").and_then(|a| a.get("b")).expect("a[b]");
    assert_eq!(b.get("c"), Some(&leaf("v")));
    assert_eq!(b.get("d"), Some(&leaf("w")));
}

#[test]
fn percent_encoded_brackets_equal_plain_brackets() {
    let plain = tree("line_items[0][id]=li_1&line_items[0][quantity]=2");
    let encoded = tree("line_items%5B0%5D%5Bid%5D=li_1&line_items%5B0%5D%5Bquantity%5D=2");
    assert_eq!(plain, encoded);
    assert_eq!(plain.canonical(), encoded.canonical());
}

#[test]
fn append_and_indexed_arrays_agree() {
    let appended = tree("expand[]=line_items&expand[]=customer");
    let indexed = tree("expand[0]=line_items&expand[1]=customer");
    assert_eq!(appended, indexed);
    let list = appended
        .get("expand")
        .and_then(Node::as_list)
        .expect("list");
    let values: Vec<_> = list.iter().map(|(_, n)| (*n).clone()).collect();
    assert_eq!(values, vec![leaf("line_items"), leaf("customer")]);
}

#[test]
fn sparse_out_of_order_indices_sort_by_index() {
    let t = tree("items[10]=c&items[2]=b&items[0]=a");
    let list = t.get("items").and_then(Node::as_list).expect("list");
    let keys: Vec<_> = list.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, vec!["0", "2", "10"]);
    let values: Vec<_> = list.iter().map(|(_, n)| (*n).clone()).collect();
    assert_eq!(values, vec![leaf("a"), leaf("b"), leaf("c")]);
}

#[test]
fn append_groups_object_fields_like_rack() {
    let t = tree("li[][price]=p1&li[][quantity]=1&li[][price]=p2&li[][quantity]=2");
    let list = t.get("li").and_then(Node::as_list).expect("list");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].1.get("price"), Some(&leaf("p1")));
    assert_eq!(list[0].1.get("quantity"), Some(&leaf("1")));
    assert_eq!(list[1].1.get("price"), Some(&leaf("p2")));
}

#[test]
fn empty_values_are_kept_as_empty_leaves() {
    let t = tree("metadata=&name=");
    assert_eq!(t.get("metadata"), Some(&leaf("")));
    assert_eq!(t.get("name"), Some(&leaf("")));
}

#[test]
fn plus_and_percent_decode_in_values() {
    let t = tree("name=T+shirt%20%26+co");
    assert_eq!(t.get("name"), Some(&leaf("T shirt & co")));
}

#[test]
fn unbalanced_brackets_stay_literal() {
    assert_eq!(split_key("a[b"), vec!["a[b".to_owned()]);
    assert_eq!(split_key("a[b]c"), vec!["a[b]c".to_owned()]);
    assert_eq!(split_key("[a]"), vec!["[a]".to_owned()]);
    assert_eq!(split_key("a[]"), vec!["a".to_owned(), String::new()]);
}

#[test]
fn scalar_then_structured_does_not_panic() {
    let t = tree("a=1&a[b]=2&a[b][c]=3&a=4");
    assert_eq!(t.get("a"), Some(&leaf("4")));
}

#[test]
fn too_deep_nesting_is_rejected() {
    let key = format!("a{}", "[x]".repeat(20));
    assert!(parse(&[format!("{key}=1").as_bytes()]).is_err());
}

#[test]
fn canonical_ignores_order() {
    assert_eq!(tree("a=1&b=2").canonical(), tree("b=2&a=1").canonical());
    assert_ne!(tree("a=1&b=2").canonical(), tree("a=1&b=3").canonical());
}

#[test]
fn params_report_unknown_with_full_name() {
    let mut p = Params::root(tree("line_items[0][price]=p&line_items[0][bogus][x]=1"));
    let items = p.object_list("line_items").expect("ok").expect("present");
    p.finish().expect("root fully read");
    let mut item = items.into_iter().next().expect("one");
    assert_eq!(item.string("price").expect("ok").as_deref(), Some("p"));
    let err = item.finish().expect_err("bogus is unknown");
    assert_eq!(err.param.as_deref(), Some("line_items[0][bogus]"));
    assert_eq!(err.code, Some("parameter_unknown"));
}

#[test]
fn params_type_errors_name_the_param() {
    let mut p = Params::root(tree("quantity=abc&flag=maybe&mode="));
    let err = p.integer("quantity").expect_err("not an integer");
    assert_eq!(err.code, Some("parameter_invalid_integer"));
    assert_eq!(err.param.as_deref(), Some("quantity"));
    assert!(p.boolean("flag").is_err());
    let err = p.required_string("mode").expect_err("empty");
    assert_eq!(err.code, Some("parameter_invalid_empty"));
    let err = p.required_string("absent").expect_err("missing");
    assert_eq!(err.code, Some("parameter_missing"));
}

#[test]
fn empty_string_reads_as_empty_list() {
    let mut p = Params::root(tree("line_items="));
    assert_eq!(p.list("line_items").expect("ok"), Some(Vec::new()));
    let mut p = Params::root(tree("line_items=x"));
    assert!(p.list("line_items").is_err());
}

#[test]
fn choice_lists_allowed_values() {
    let mut p = Params::root(tree("ui_mode=custom"));
    let err = p
        .choice("ui_mode", &["elements", "embedded_page", "hosted_page"])
        .expect_err("not allowed");
    assert_eq!(
        err.message,
        "Invalid ui_mode: must be one of elements, embedded_page, or hosted_page"
    );
    assert_eq!(err.param.as_deref(), Some("ui_mode"));
}
