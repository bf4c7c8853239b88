//! Unit tests of the overlay option handling.
use super::*;

#[test]
fn runc_style_options_parse() {
    let o = Overlay::from_mount_data(
        "lowerdir=/a:rel/b:/c\\:d,upperdir=/u,workdir=w,index=off,volatile,xino=off",
        Path::new("/bundle"),
    )
    .unwrap();
    assert_eq!(
        o.lowers(),
        &[
            PathBuf::from("/a"),
            PathBuf::from("/bundle/rel/b"),
            PathBuf::from("/c:d")
        ]
    );
    assert_eq!(
        o.upper_dirs(),
        Some((Path::new("/u"), Path::new("/bundle/w")))
    );
    assert_eq!(
        o.options,
        vec![
            OverlayOption::Index(false),
            OverlayOption::Volatile,
            OverlayOption::Other {
                key: "xino".into(),
                value: Some("off".into())
            }
        ]
    );
    let back = Overlay::from_mount_data(&o.to_mount_data(), Path::new("/x")).unwrap();
    assert_eq!(back, o);
    let ro = Overlay::from_mount_data("lowerdir=/a:/b", Path::new("/")).unwrap();
    assert!(ro.is_readonly());
}

#[test]
fn bad_options_say_why() {
    let e = |d: &str| Overlay::from_mount_data(d, Path::new("/")).unwrap_err();
    assert_eq!(
        e("upperdir=/u,workdir=/w"),
        "an overlay mount needs lowerdir="
    );
    assert_eq!(e("lowerdir=/a,upperdir=/u"), "upperdir= needs workdir=");
    assert_eq!(e("lowerdir=/a::/b"), "lowerdir: empty layer path");
    assert!(e("lowerdir=/a,index=maybe").contains("index=on or index=off"));
    assert!(e("lowerdir=/a,redirect_dir=x").contains("redirect_dir"));
}

#[test]
fn data_string() {
    let o = Overlay::new(["/l1", "/l2"])
        .upper("/u", "/w")
        .option(OverlayOption::Metacopy(true))
        .option(OverlayOption::RedirectDir(RedirectDir::Follow))
        .option(OverlayOption::UserXattr);
    assert_eq!(
        o.data(
            &["/l1".into(), "/l2".into()],
            Some(("/u".into(), "/w".into()))
        ),
        "lowerdir=/l1:/l2,upperdir=/u,workdir=/w,metacopy=on,redirect_dir=follow,userxattr"
    );
}

#[test]
fn flags_and_checks() {
    assert_eq!(
        ms_to_attr(MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOATIME),
        0x15
    );
    let e = Overlay::new(Vec::<PathBuf>::new())
        .mount_at("/nonexistent")
        .unwrap_err();
    assert_eq!(e.to_string(), "overlay: no lower layer");
    let e = Overlay::new(["/a"]).mount_at("/nonexistent").unwrap_err();
    assert!(e.to_string().contains("at least 2 lower layers"), "{e}");
    let e = Overlay::new(["/a", "/b"])
        .option(OverlayOption::Volatile)
        .mount_at("/nonexistent")
        .unwrap_err();
    assert!(e.to_string().contains("volatile"), "{e}");
    let e = Overlay::new(["/a", "/b"])
        .flags(MsFlags::MS_BIND)
        .mount_at("/nonexistent")
        .unwrap_err();
    assert!(e.to_string().contains("unsupported mount flags"), "{e}");
}
