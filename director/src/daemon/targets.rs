//! Finding the actor an `ask`, a `tell` or `get_role_address` means: a
//! TLI role in a group's active version (or in a named loaded version),
//! or else a global name.

use actor_abi::Address;

use crate::daemon::core::{Core, DirectorError, Running, fail};
use crate::daemon::placement::Placed;
use crate::protocol::ErrorKind;

impl Core {
    /// The live actor with `role` in the active version of `group` (or of
    /// the one group that has the role), or in the loaded version `source`.
    pub fn role_address(
        &self,
        role: &str,
        group: Option<&str>,
        source: Option<&str>,
    ) -> Result<Option<Address>, DirectorError> {
        let Some((hash, a)) = self.role_actor(role, group, source)? else { return Ok(None) };
        Ok(match &a.placed {
            Placed::Here => a.address,
            // Where the member that runs it says it is (its record).
            Placed::On(member) => self.relay.as_ref().and_then(|r| r.placed_address(member, hash, &a.spec.class)),
            Placed::Unplaced(_) => None,
        })
    }

    /// The convention member that runs `role` (as [`Core::role_address`]
    /// finds it), when its TLI `Requires` placed it on another member.
    pub fn role_member(&self, role: &str, group: Option<&str>, source: Option<&str>) -> Option<String> {
        match self.role_actor(role, group, source) {
            Ok(Some((_, Running { placed: Placed::On(member), .. }))) => Some(member.clone()),
            _ => None,
        }
    }

    fn role_actor(
        &self,
        role: &str,
        group: Option<&str>,
        source: Option<&str>,
    ) -> Result<Option<(&str, &Running)>, DirectorError> {
        if let Some(prefix) = source {
            let (g, i) = self.find(prefix)?;
            let v = &self.groups[&g].versions[i];
            let found = v.actors.iter().find(|a| a.spec.role.as_deref() == Some(role));
            return Ok(found.map(|a| (v.info.hash.as_str(), a)));
        }
        let mut found = Vec::new();
        for (name, g) in self.groups.iter().filter(|(n, _)| group.is_none_or(|want| want == n.as_str())) {
            let Some(active) = g.active.as_deref().and_then(|h| self.version(name, h)) else { continue };
            if let Some(a) = active.actors.iter().find(|a| a.spec.role.as_deref() == Some(role)) {
                found.push((name.clone(), (active.info.hash.as_str(), a)));
            }
        }
        match found.as_slice() {
            [] => Ok(None),
            [(_, a)] => Ok(Some(*a)),
            many => Err(fail(
                ErrorKind::BadRequest,
                format!(
                    "role {role:?} exists in groups {:?}; pick one with --group",
                    many.iter().map(|(g, _)| g).collect::<Vec<_>>()
                ),
            )),
        }
    }

    /// Resolves an ask/tell target: a role first, then a global name.
    pub fn target(&self, target: &str, group: Option<&str>, source: Option<&str>) -> Result<Address, DirectorError> {
        if let Some(addr) = self.role_address(target, group, source)? {
            return Ok(addr);
        }
        if source.is_none()
            && let Some(addr) = self.system.lookup_name(target)
        {
            return Ok(addr);
        }
        let place = match (source, group) {
            (Some(s), _) => format!("loaded version {s}"),
            (None, Some(g)) => format!("the active version of group {g:?}"),
            (None, None) => "any active version".to_string(),
        };
        Err(fail(ErrorKind::NotFound, format!("no running actor with role or global name {target:?} in {place}")))
    }
}
