//! Property tests of the tools' opener: random trees of folders and links (relative, absolute,
//! loops, `..`), every path opened every way the tools open one, and nothing outside the project
//! root is ever opened or created. (`fuzz/` runs the same check under libFuzzer.)

use proptest::prelude::*;

use crate::opener_tree;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn nothing_outside_the_root_is_ever_opened(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        opener_tree::check(&opener_tree::build(&bytes));
    }
}

/// A tree written out by hand with every kind of link the generator makes, so the check is
/// seen to open things at all (a check that refuses everything would pass the property).
#[test]
fn the_check_opens_what_lies_inside() {
    // mkdir project/a; file project/a/b; link project/c -> a; queries c/b, a/b, c/../a/b.
    let bytes = [0, 0, 0, 1, 2, 1, 2, 0, 2, 3, 3, 1, 2, 1, 2];
    let tree = opener_tree::build(&bytes);
    assert!(tree.project.join("a").is_dir());
    assert!(tree.project.join("c").is_symlink(), "{:?}", tree.queries);
    let opener = kelp::tools::opener::Opener::new(
        &tree.project,
        kelp::tools::opener::Approved::Only(Vec::new()),
    )
    .unwrap();
    assert!(opener.open(&tree.project.join("c/b")).is_ok());
    opener_tree::check(&tree);
}
