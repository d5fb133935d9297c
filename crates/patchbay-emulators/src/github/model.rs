//! The GitHub emulator's in-memory world: users, organizations, repositories with their
//! issues, pull requests, comments and commits, and the JSON GitHub renders for each.

use crate::{rfc3339, Clock};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// A user's rights on a repository, as GitHub reports them in `permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    pub admin: bool,
    pub push: bool,
    pub pull: bool,
}

impl Permissions {
    pub const ADMIN: Permissions = Permissions {
        admin: true,
        push: true,
        pull: true,
    };
    pub const WRITE: Permissions = Permissions {
        admin: false,
        push: true,
        pull: true,
    };
    pub const READ: Permissions = Permissions {
        admin: false,
        push: false,
        pull: true,
    };

    fn json(self) -> Value {
        json!({"admin": self.admin, "push": self.push, "pull": self.pull})
    }
}

/// An issue, or a pull request (which GitHub also lists as an issue).
pub enum Item {
    Issue(Value),
    Pull(Value),
}

pub struct Repo {
    /// The repository as GitHub renders it, without the caller's `permissions`.
    pub json: Value,
    /// Who may see the repository, and with which rights; public repositories are readable
    /// by anyone besides.
    pub access: BTreeMap<String, Permissions>,
    pub items: BTreeMap<u64, Item>,
    /// Newest first, each with the branch it was pushed to.
    pub commits: Vec<(String, Value)>,
    /// Branch name → head sha (empty before the first commit).
    pub branches: BTreeMap<String, String>,
    pub comments: Vec<Value>,
}

impl Repo {
    pub fn full_name(&self) -> &str {
        self.json["full_name"].as_str().unwrap_or_default()
    }

    /// The repository as `login` sees it, or `None` when it is hidden from them.
    pub fn view(&self, login: &str) -> Option<Value> {
        let perms = match self.access.get(login) {
            Some(p) => *p,
            None if self.json["private"] == false => Permissions {
                admin: false,
                push: false,
                pull: true,
            },
            None => return None,
        };
        let mut v = self.json.clone();
        v["permissions"] = perms.json();
        Some(v)
    }

    /// The issue view of an item: pull requests carry a `pull_request` key.
    pub fn issue_view(&self, item: &Item) -> Value {
        match item {
            Item::Issue(v) => v.clone(),
            Item::Pull(p) => {
                let mut v = json!({});
                for key in [
                    "id",
                    "node_id",
                    "number",
                    "title",
                    "body",
                    "user",
                    "labels",
                    "assignee",
                    "assignees",
                    "comments",
                    "created_at",
                    "updated_at",
                    "closed_at",
                    "draft",
                    "author_association",
                    "locked",
                ] {
                    v[key] = p.get(key).cloned().unwrap_or(Value::Null);
                }
                let number = p["number"].as_u64().unwrap_or_default();
                let api = p["base"]["repo"]["url"].as_str().unwrap_or_default();
                v["url"] = format!("{api}/issues/{number}").into();
                v["repository_url"] = api.into();
                v["html_url"] = p["html_url"].clone();
                v["state"] = p["state"].clone();
                v["pull_request"] = json!({
                    "url": p["url"],
                    "html_url": p["html_url"],
                    "diff_url": format!("{}.diff", p["html_url"].as_str().unwrap_or_default()),
                    "patch_url": format!("{}.patch", p["html_url"].as_str().unwrap_or_default()),
                    "merged_at": p["merged_at"],
                });
                v
            }
        }
    }
}

/// Requests allowed per window of one rate-limit resource (`core`, `search`).
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub limit: u64,
    pub used: u64,
    /// Unix seconds when the window restarts.
    pub reset: i64,
}

impl Bucket {
    pub fn new(limit: u64) -> Self {
        Bucket {
            limit,
            used: 0,
            reset: chrono::Utc::now().timestamp() + 3600,
        }
    }

    /// Starts a new window once the old one is over.
    pub fn roll(&mut self) {
        let now = chrono::Utc::now().timestamp();
        if now >= self.reset {
            self.used = 0;
            self.reset = now + 3600;
        }
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    pub fn json(&self) -> Value {
        json!({
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining(),
            "reset": self.reset,
        })
    }
}

pub struct Data {
    /// `http://127.0.0.1:<port><prefix>`: the root the `url` fields point at.
    pub api: String,
    pub users: BTreeMap<String, Value>,
    pub orgs: BTreeMap<String, Value>,
    pub tokens: HashMap<String, String>,
    pub repos: BTreeMap<String, Repo>,
    pub clock: Clock,
    pub core: Bucket,
    pub search: Bucket,
    /// Pending secondary rate limit answers and their `Retry-After`.
    pub secondary: (u32, u64),
    pub not_modified: u64,
    pub tarball_bytes: u64,
    /// (method, path without the prefix) of every request, in order.
    pub calls: Vec<(String, String)>,
    next_id: u64,
    seeded: usize,
}

pub const HTML: &str = "https://github.com";

impl Data {
    pub fn new(core_limit: u64, search_limit: u64, tarball_bytes: u64) -> Self {
        Data {
            api: String::new(),
            users: BTreeMap::new(),
            orgs: BTreeMap::new(),
            tokens: HashMap::new(),
            repos: BTreeMap::new(),
            clock: Clock::new(),
            core: Bucket::new(core_limit),
            search: Bucket::new(search_limit),
            secondary: (0, 0),
            not_modified: 0,
            tarball_bytes,
            calls: Vec::new(),
            next_id: 1,
            seeded: 0,
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A timestamp for seeded data: in the past, increasing.
    pub fn seed_time(&mut self) -> String {
        self.seeded += 1;
        rfc3339(self.clock.seeded(self.seeded))
    }

    pub fn now(&mut self) -> String {
        rfc3339(self.clock.tick())
    }

    fn account(&mut self, login: &str, kind: &str) -> Value {
        let id = self.id();
        json!({
            "login": login,
            "id": id,
            "node_id": format!("MDQ6VXNlcj{id}"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "url": format!("{}/users/{login}", self.api),
            "html_url": format!("{HTML}/{login}"),
            "type": kind,
            "site_admin": false,
        })
    }

    /// The user `login`, created on first use.
    pub fn user(&mut self, login: &str) -> Value {
        if let Some(u) = self.users.get(login).or_else(|| self.orgs.get(login)) {
            return u.clone();
        }
        let user = self.account(login, "User");
        self.users.insert(login.into(), user.clone());
        user
    }

    pub fn add_org(&mut self, login: &str) -> Value {
        let org = self.account(login, "Organization");
        self.orgs.insert(login.into(), org.clone());
        org
    }

    pub fn add_repo(&mut self, owner: &str, name: &str, private: bool, default_branch: &str) {
        let owner_json = self.user(owner);
        let id = self.id();
        let t = self.seed_time();
        let full = format!("{owner}/{name}");
        let json = json!({
            "id": id,
            "node_id": format!("R_kgDO{id}"),
            "name": name,
            "full_name": full,
            "private": private,
            "visibility": if private { "private" } else { "public" },
            "owner": owner_json,
            "html_url": format!("{HTML}/{full}"),
            "description": null,
            "fork": false,
            "url": format!("{}/repos/{full}", self.api),
            "default_branch": default_branch,
            "archived": false,
            "open_issues_count": 0,
            "created_at": t,
            "updated_at": t,
            "pushed_at": t,
        });
        let mut access = BTreeMap::new();
        if !self.orgs.contains_key(owner) {
            access.insert(owner.to_string(), Permissions::ADMIN);
        }
        let repo = Repo {
            json,
            access,
            items: BTreeMap::new(),
            commits: Vec::new(),
            branches: [(default_branch.to_string(), String::new())].into(),
            comments: Vec::new(),
        };
        self.repos.insert(full, repo);
    }

    pub fn next_number(&self, repo: &str) -> u64 {
        self.repos
            .get(repo)
            .and_then(|r| r.items.keys().next_back())
            .map_or(1, |n| n + 1)
    }

    fn issue_base(
        &mut self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
        author: &str,
        t: &str,
    ) -> Value {
        let id = self.id();
        let user = self.user(author);
        json!({
            "id": id,
            "node_id": format!("I_kwDO{id}"),
            "url": format!("{}/repos/{repo}/issues/{number}", self.api),
            "repository_url": format!("{}/repos/{repo}", self.api),
            "html_url": format!("{HTML}/{repo}/issues/{number}"),
            "number": number,
            "state": "open",
            "state_reason": null,
            "title": title,
            "body": body,
            "user": user,
            "labels": [],
            "assignee": null,
            "assignees": [],
            "comments": 0,
            "locked": false,
            "author_association": "OWNER",
            "created_at": t,
            "updated_at": t,
            "closed_at": null,
        })
    }

    /// Adds an open issue; `None` for an unknown repository.
    pub fn add_issue(
        &mut self,
        repo: &str,
        title: &str,
        body: &str,
        author: &str,
        t: String,
    ) -> Option<Value> {
        self.repos.get(repo)?;
        let number = self.next_number(repo);
        let issue = self.issue_base(repo, number, title, body, author, &t);
        let r = self.repos.get_mut(repo)?;
        r.items.insert(number, Item::Issue(issue.clone()));
        Some(issue)
    }

    /// Adds an open pull request from `head` into `base`; `None` for an unknown repository.
    #[allow(clippy::too_many_arguments)]
    pub fn add_pull(
        &mut self,
        repo: &str,
        title: &str,
        body: &str,
        head: &str,
        base: &str,
        draft: bool,
        author: &str,
        t: String,
    ) -> Option<Value> {
        let repo_json = self.repos.get(repo)?.json.clone();
        let number = self.next_number(repo);
        let mut pull = self.issue_base(repo, number, title, body, author, &t);
        let r = self.repos.get_mut(repo)?;
        let sha_of = |b: &str| r.branches.get(b).cloned().unwrap_or_default();
        let owner = repo_json["owner"].clone();
        let login = owner["login"].as_str().unwrap_or_default().to_string();
        let side = |b: &str| json!({"label": format!("{login}:{b}"), "ref": b, "sha": sha_of(b), "user": owner, "repo": repo_json});
        pull["url"] = format!("{}/repos/{repo}/pulls/{number}", self.api).into();
        pull["html_url"] = format!("{HTML}/{repo}/pull/{number}").into();
        pull["node_id"] = format!("PR_kwDO{}", pull["id"]).into();
        pull["draft"] = draft.into();
        pull["merged"] = false.into();
        pull["merged_at"] = Value::Null;
        pull["merge_commit_sha"] = Value::Null;
        pull["requested_reviewers"] = json!([]);
        pull["head"] = side(head);
        pull["base"] = side(base);
        if let Some(o) = pull.as_object_mut() {
            o.remove("repository_url");
            o.remove("state_reason");
            o.remove("comments");
        }
        r.items.insert(number, Item::Pull(pull.clone()));
        Some(pull)
    }

    /// Adds a commit on `branch` (created when new) and moves the branch head to it.
    pub fn add_commit(
        &mut self,
        repo: &str,
        branch: &str,
        message: &str,
        author: &str,
        t: String,
    ) -> Option<Value> {
        let user = self.user(author);
        let api = self.api.clone();
        let r = self.repos.get_mut(repo)?;
        let parent = r.branches.get(branch).cloned().unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(format!("{repo}\n{branch}\n{}\n{message}", r.commits.len()));
        let sha: String = hasher.finalize()[..20]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let person = json!({"name": author, "email": format!("{author}@users.noreply.github.com"), "date": t});
        let parents: Vec<Value> = Some(parent)
            .filter(|p| !p.is_empty())
            .map(|p| json!({"sha": p, "url": format!("{api}/repos/{repo}/commits/{p}")}))
            .into_iter()
            .collect();
        let commit = json!({
            "sha": sha,
            "node_id": format!("C_kwDO{}", &sha[..12]),
            "url": format!("{api}/repos/{repo}/commits/{sha}"),
            "html_url": format!("{HTML}/{repo}/commit/{sha}"),
            "commit": {
                "message": message,
                "author": person,
                "committer": person,
                "tree": {"sha": sha},
                "comment_count": 0,
            },
            "author": user,
            "committer": user,
            "parents": parents,
        });
        r.commits.insert(0, (branch.to_string(), commit.clone()));
        r.branches.insert(branch.to_string(), sha);
        r.json["pushed_at"] = t.clone().into();
        r.json["updated_at"] = t.into();
        Some(commit)
    }
}
