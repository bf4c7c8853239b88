//! The runtime part of an image config (`Env`, `Entrypoint`, `Cmd`, `WorkingDir`,
//! `User`) and how it fills a runtime [`Spec`].

use std::io::{BufRead, BufReader};
use std::path::Path;

use nix::fcntl::OFlag;
use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{Process, Spec};

use crate::error::{Error, Result};
use crate::rootfs::resolve::Root;

/// What an image says about how to run it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageConfig {
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// The executable and its first arguments.
    pub entrypoint: Vec<String>,
    /// The default arguments (after the entrypoint, or the command if there is none).
    pub cmd: Vec<String>,
    /// The working directory.
    pub working_dir: Option<String>,
    /// `user`, `uid`, `user:group`, `uid:gid`, ... as in the image config.
    pub user: Option<String>,
}

impl ImageConfig {
    pub(crate) fn from_oci(c: &ImageConfiguration) -> ImageConfig {
        let Some(cfg) = c.config() else {
            return ImageConfig::default();
        };
        ImageConfig {
            env: cfg.env().clone().unwrap_or_default(),
            entrypoint: cfg.entrypoint().clone().unwrap_or_default(),
            cmd: cfg.cmd().clone().unwrap_or_default(),
            working_dir: cfg.working_dir().clone().filter(|w| !w.is_empty()),
            user: cfg.user().clone().filter(|u| !u.is_empty()),
        }
    }

    /// Fill `spec.process` from the image: `args` = `Entrypoint` + `Cmd` (when either
    /// is set), each `Env` entry replaces the spec's entry of the same name or is
    /// appended, `cwd` = `WorkingDir`, and `user` from `User`. A user or group given
    /// by name is looked up in the image's `/etc/passwd` and `/etc/group`, read inside
    /// `root.path` (which must then be set, and absolute); without a group, the user's
    /// primary group from `/etc/passwd` is taken (0 when the uid has no entry).
    pub fn apply_to(&self, spec: &mut Spec) -> Result<()> {
        let user = match &self.user {
            Some(u) => Some(self.resolve_user(u, spec)?),
            None => None,
        };
        let mut process = spec.process().clone().unwrap_or_default();
        let args: Vec<String> = self
            .entrypoint
            .iter()
            .chain(self.cmd.iter())
            .cloned()
            .collect();
        if !args.is_empty() {
            process.set_args(Some(args));
        }
        let mut env = process.env().clone().unwrap_or_default();
        for e in &self.env {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            match env
                .iter_mut()
                .find(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) == key)
            {
                Some(slot) => *slot = e.clone(),
                None => env.push(e.clone()),
            }
        }
        process.set_env(Some(env));
        if let Some(w) = &self.working_dir {
            process.set_cwd(w.into());
        }
        if let Some((uid, gid)) = user {
            set_user(&mut process, uid, gid);
        }
        spec.set_process(Some(process));
        Ok(())
    }

    fn resolve_user(&self, user: &str, spec: &Spec) -> Result<(u32, u32)> {
        let (u, g) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user, None),
        };
        let root = || -> Result<Root> {
            let p = spec.root().as_ref().map(|r| r.path().as_path());
            match p {
                Some(p) if p.is_absolute() => Root::open(p),
                _ => Err(Error::Other(format!(
                    "image User {user:?}: a name is looked up in the rootfs: set an absolute \
                     root.path before apply_to"
                ))),
            }
        };
        let passwd = |root: &Root| read_db(root, "/etc/passwd");
        let (uid, primary) = match u.parse::<u32>() {
            Ok(uid) => {
                // The primary group of a numeric user, when the image knows it.
                let primary = if g.is_none() {
                    root().ok().and_then(|r| passwd(&r).ok()).and_then(|db| {
                        db.iter()
                            .find(|f| f.get(2).and_then(|s| s.parse().ok()) == Some(uid))
                            .and_then(|f| f.get(3)?.parse().ok())
                    })
                } else {
                    None
                };
                (uid, primary)
            }
            Err(_) => {
                let db = passwd(&root()?)?;
                let f = db
                    .iter()
                    .find(|f| f.first().map(String::as_str) == Some(u))
                    .ok_or_else(|| {
                        Error::Other(format!("image User {user:?}: no user {u:?} in /etc/passwd"))
                    })?;
                let num = |i: usize| -> Result<u32> {
                    f.get(i).and_then(|s| s.parse().ok()).ok_or_else(|| {
                        Error::Other(format!("image User {user:?}: bad /etc/passwd entry"))
                    })
                };
                (num(2)?, Some(num(3)?))
            }
        };
        let gid = match g {
            None => primary.unwrap_or(0),
            Some(g) => match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => read_db(&root()?, "/etc/group")?
                    .iter()
                    .find(|f| f.first().map(String::as_str) == Some(g))
                    .and_then(|f| f.get(2)?.parse().ok())
                    .ok_or_else(|| {
                        Error::Other(format!("image User {user:?}: no group {g:?} in /etc/group"))
                    })?,
            },
        };
        Ok((uid, gid))
    }
}

fn set_user(process: &mut Process, uid: u32, gid: u32) {
    let mut u = process.user().clone();
    u.set_uid(uid);
    u.set_gid(gid);
    process.set_user(u);
}

/// The `:`-separated fields of each line of a passwd-like file inside the root.
fn read_db(root: &Root, path: &str) -> Result<Vec<Vec<String>>> {
    let fd = root
        .open_in(Path::new(path), OFlag::O_RDONLY)
        .map_err(|e| Error::sys(format!("open({:?})", root.display(Path::new(path))), e))?;
    let f = std::fs::File::from(fd);
    Ok(BufReader::new(f)
        .lines()
        .map_while(std::result::Result::ok)
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::RootBuilder;

    fn cfg() -> ImageConfig {
        ImageConfig {
            env: vec!["PATH=/app/bin".into(), "APP=1".into()],
            entrypoint: vec!["/app/run".into()],
            cmd: vec!["--port".into(), "80".into()],
            working_dir: Some("/app".into()),
            user: Some("1000:50".into()),
        }
    }

    #[test]
    fn fills_process() {
        let mut spec = Spec::default();
        cfg().apply_to(&mut spec).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["/app/run", "--port", "80"]);
        let env = p.env().as_ref().unwrap();
        assert!(env.contains(&"PATH=/app/bin".to_string()), "{env:?}");
        assert!(env.contains(&"TERM=xterm".to_string()), "{env:?}");
        assert!(env.contains(&"APP=1".to_string()), "{env:?}");
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert_eq!(p.cwd(), Path::new("/app"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 50));
    }

    #[test]
    fn empty_config_keeps_args() {
        let mut spec = Spec::default();
        ImageConfig::default().apply_to(&mut spec).unwrap();
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap(),
            &["sh"]
        );
    }

    #[test]
    fn names_are_looked_up_in_the_rootfs() {
        let dir = crate::rootfs::tests_support::TempDir::new("imgcfg");
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\nweb:x:33:34::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let mut spec = Spec::default();
        spec.set_root(Some(
            RootBuilder::default()
                .path(dir.path().to_path_buf())
                .build()
                .unwrap(),
        ));
        let mut c = ImageConfig::default();
        for (user, want) in [
            ("web", (33, 34)),
            ("web:staff", (33, 50)),
            ("33", (33, 34)),
            ("0:staff", (0, 50)),
            ("77", (77, 0)),
        ] {
            c.user = Some(user.into());
            c.apply_to(&mut spec).unwrap();
            let u = spec.process().as_ref().unwrap().user().clone();
            assert_eq!((u.uid(), u.gid()), want, "{user}");
        }
        c.user = Some("nobody".into());
        let e = c.apply_to(&mut spec).unwrap_err().to_string();
        assert!(e.contains("no user \"nobody\""), "{e}");
        let mut bare = Spec::default();
        bare.set_root(None);
        c.user = Some("web".into());
        assert!(c.apply_to(&mut bare).is_err());
    }
}
