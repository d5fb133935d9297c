//! The one parser of GitHub repository names, by GitHub's own naming rules: `owner/name` as the
//! API spells it, references people paste (web pages and clone URLs of github.com or an
//! Enterprise Server), and the one form the organisation's registry stores.

use patchbay_core::FieldError;

/// A GitHub repository name that passed GitHub's own naming rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// `owner/name` exactly, case kept: what the API and records use.
    pub fn parse_plain(input: &str) -> Result<RepoName, FieldError> {
        let mut parts = input.split('/');
        let (Some(owner), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("format", "expected 'owner/name'"));
        };
        check_owner(owner)?;
        check_name(name)?;
        Ok(RepoName {
            owner: owner.into(),
            name: name.into(),
        })
    }

    /// What a person pastes into an action's input: `owner/name`, or a web or clone URL of it
    /// on any host (github.com or an Enterprise Server), a deeper page such as
    /// `/owner/name/pull/3` included. Case kept.
    pub fn parse_reference(input: &str) -> Result<RepoName, FieldError> {
        let input = input.trim();
        if let Ok(plain) = RepoName::parse_plain(input) {
            return Ok(plain);
        }
        let path = match url::Url::parse(input) {
            Ok(u) if matches!(u.scheme(), "http" | "https" | "ssh" | "git") => u.path().to_string(),
            _ => match input.split_once(':') {
                Some((_, path)) => path.to_string(),
                None => {
                    return Err(invalid(
                        "format",
                        "expected 'owner/name' or a repository URL",
                    ))
                }
            },
        };
        let mut parts = path.trim_matches('/').split('/');
        let (Some(owner), Some(name)) = (parts.next(), parts.next()) else {
            return Err(invalid("format", "the URL names no repository"));
        };
        let name = name.strip_suffix(".git").unwrap_or(name);
        RepoName::parse_plain(&format!("{owner}/{name}"))
    }

    /// For the registry: `owner/name` or a github.com URL of the repository itself. GitHub compares names without regard to case,
    /// so they are kept in lower case: the registry then refuses `Octo/App` next to `octo/app`.
    pub fn parse(input: &str) -> Result<RepoName, FieldError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(invalid("required", "full_name is required"));
        }
        let path = strip_github_host(input)?;
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        if path.split('/').count() != 2 {
            return Err(invalid(
                "format",
                "expected 'owner/name' or a repository URL such as https://github.com/owner/name",
            ));
        }
        let plain = RepoName::parse_plain(path)?;
        Ok(RepoName {
            owner: plain.owner.to_ascii_lowercase(),
            name: plain.name.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The `owner/name…` part of a URL on github.com, or the input itself when it is not a URL.
fn strip_github_host(input: &str) -> Result<&str, FieldError> {
    if let Some(rest) = input.strip_prefix("git@") {
        return rest.strip_prefix("github.com:").ok_or_else(|| {
            invalid(
                "unsupported_host",
                "only github.com repositories can be registered",
            )
        });
    }
    let rest = ["https://", "http://", "ssh://git@", "git://"]
        .iter()
        .find_map(|scheme| input.strip_prefix(scheme))
        .or_else(|| input.starts_with("github.com/").then_some(input));
    let Some(rest) = rest else {
        return Ok(input);
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    if host != "github.com" && host != "www.github.com" {
        return Err(invalid(
            "unsupported_host",
            "only github.com repositories can be registered",
        ));
    }
    // A query or fragment belongs to a page, not to the repository.
    if path.contains(['?', '#']) {
        return Err(invalid(
            "format",
            "the URL must name a repository, without query or fragment",
        ));
    }
    Ok(path)
}

/// GitHub logins: 1–39 letters, digits and single inner hyphens; managed (enterprise) users
/// add `_` and their enterprise's short code.
fn check_owner(owner: &str) -> Result<(), FieldError> {
    let (login, shortcode) = match owner.split_once('_') {
        Some((login, code)) => (login, Some(code)),
        None => (owner, None),
    };
    let ok = !login.is_empty()
        && owner.len() <= 39
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !login.starts_with('-')
        && !login.ends_with('-')
        && !login.contains("--")
        && shortcode.is_none_or(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "invalid_owner",
            "the owner must be 1 to 39 letters, digits or single hyphens, not at either end",
        ))
    }
}

/// GitHub repository names: 1–100 letters, digits, `.`, `-`, `_`; not `.` or `..`.
fn check_name(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "invalid_name",
            "the repository name must be 1 to 100 letters, digits, '.', '-' or '_'",
        ))
    }
}

/// A branch name git would accept (the rules of `git check-ref-format --branch`, simplified).
pub fn check_branch(branch: &str) -> Result<(), FieldError> {
    let ok = !branch.is_empty()
        && branch.len() <= 255
        && !branch.starts_with(['-', '/', '.'])
        && !branch.ends_with(['/', '.'])
        && !branch.ends_with(".lock")
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.contains("@{")
        && !branch
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "default_branch",
            "format",
            "default_branch is not a valid git branch name",
        ))
    }
}

fn invalid(code: &str, message: &str) -> FieldError {
    FieldError::new("full_name", code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(input: &str) -> String {
        RepoName::parse(input).unwrap().full_name()
    }

    #[test]
    fn names_and_urls_normalise_to_owner_slash_name() {
        for input in [
            "octo-org/hello-world",
            "Octo-Org/Hello-World",
            " octo-org/hello-world ",
            "https://github.com/octo-org/hello-world",
            "https://github.com/octo-org/hello-world/",
            "https://github.com/octo-org/hello-world.git",
            "http://www.github.com/octo-org/hello-world",
            "git@github.com:octo-org/hello-world.git",
            "ssh://git@github.com/octo-org/hello-world.git",
            "github.com/octo-org/hello-world",
        ] {
            assert_eq!(full(input), "octo-org/hello-world", "{input}");
        }
        assert_eq!(full("a/b.c_d-e"), "a/b.c_d-e");
        // A managed user's login.
        assert_eq!(full("mona_octocorp/app"), "mona_octocorp/app");
    }

    #[test]
    fn bad_names_are_field_errors() {
        for (input, code) in [
            ("", "required"),
            ("just-a-name", "format"),
            ("a/b/c", "format"),
            ("https://github.com/octo/app/pull/1", "format"),
            ("https://github.com/octo/app?tab=readme", "format"),
            ("https://gitlab.com/octo/app", "unsupported_host"),
            ("git@gitlab.com:octo/app.git", "unsupported_host"),
            ("-octo/app", "invalid_owner"),
            ("oc--to/app", "invalid_owner"),
            ("octo__org/app", "invalid_owner"),
            ("octo_/app", "invalid_owner"),
            (&format!("{}/app", "a".repeat(40)), "invalid_owner"),
            ("octo/..", "invalid_name"),
            ("octo/has space", "invalid_name"),
            ("octo/", "format"),
        ] {
            let err = RepoName::parse(input).unwrap_err();
            assert_eq!(err.field, "full_name", "{input}");
            assert_eq!(err.code, code, "{input}");
        }
    }

    #[test]
    fn branch_names_follow_git_rules() {
        for ok in ["main", "release/1.2", "feature-x_y"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "a:b", "x.lock", "a/", "@{1}"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }
}
