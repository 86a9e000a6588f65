//! Actors that turn out to be the same: the `same_as` links of actor revisions, read as
//! classes of interchangeable actors.
//!
//! Sources code one actor many ways (GDELT's `cameo-lbnreb…` and a curated `hezbollah`), and an
//! analyst who finds out says so with a revision that declares `same_as`. A link counts in both
//! directions, and links chain: the class of an actor is every actor reachable over the links
//! declared by the revisions current at the query's position, so a later revision without the
//! link undoes it from then on and a query as of an earlier position answers as the links stood
//! then. This module owns the rule; it reads nothing: the store says which actors one actor is
//! linked to at a position, and [`class_of`] walks those links.

use std::collections::{BTreeSet, VecDeque};

use super::ids::ActorId;

/// Actors one class holds at most. A query over a class walks one posting list per member and
/// the graph once per member, so the class is cut here, breadth-first from the actor named
/// (its nearest links are kept); the response lists the ids it covered, so a cut class is never
/// silent.
pub const MAX_CLASS: usize = 64;

/// The actors a name given in a query stands for: the one named and every actor it is the same
/// as, at the query's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorClass {
    /// The actor the request named (resolved from its id, name or alias).
    named: ActorId,
    /// Every member, `named` included; ordered so answers list them the same way each time.
    members: BTreeSet<ActorId>,
}

impl ActorClass {
    /// The class of an actor with no links: the actor alone.
    pub fn single(named: ActorId) -> ActorClass {
        ActorClass {
            members: BTreeSet::from([named.clone()]),
            named,
        }
    }

    /// The actor the request named.
    pub fn named(&self) -> &ActorId {
        &self.named
    }

    /// True if `id` is one of the class.
    pub fn contains(&self, id: &ActorId) -> bool {
        self.members.contains(id)
    }

    /// Every member: the actor named first, then the others in id order.
    pub fn ids(&self) -> impl Iterator<Item = &ActorId> {
        std::iter::once(&self.named).chain(self.members.iter().filter(move |m| **m != self.named))
    }

    /// How many actors the class holds (at least one).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Never true: a class holds at least the actor named. For clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl From<ActorId> for ActorClass {
    fn from(named: ActorId) -> ActorClass {
        ActorClass::single(named)
    }
}

/// The class of `named`: every actor reachable from it over `linked`, which gives the actors one
/// actor is linked to in either direction (its current revision declares them, or theirs
/// declares it). Breadth-first, neighbours in id order, at most [`MAX_CLASS`] members, so
/// `linked` is asked at most that many times.
pub fn class_of<E>(
    named: ActorId,
    mut linked: impl FnMut(&ActorId) -> Result<Vec<ActorId>, E>,
) -> Result<ActorClass, E> {
    let mut class = ActorClass::single(named.clone());
    let mut queue = VecDeque::from([named]);
    while let Some(actor) = queue.pop_front() {
        let mut next = linked(&actor)?;
        next.sort();
        for other in next {
            if class.members.len() == MAX_CLASS {
                return Ok(class);
            }
            if class.members.insert(other.clone()) {
                queue.push_back(other);
            }
        }
    }
    Ok(class)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;

    use super::*;

    fn id(text: &str) -> ActorId {
        ActorId::parse(text).expect("valid id")
    }

    /// The undirected links of `pairs`, as the store would give them.
    fn graph(pairs: &[(&str, &str)]) -> BTreeMap<ActorId, Vec<ActorId>> {
        let mut links: BTreeMap<ActorId, Vec<ActorId>> = BTreeMap::new();
        for (a, b) in pairs {
            links.entry(id(a)).or_default().push(id(b));
            links.entry(id(b)).or_default().push(id(a));
        }
        links
    }

    fn class(pairs: &[(&str, &str)], named: &str) -> Vec<String> {
        let links = graph(pairs);
        let found = class_of(id(named), |a| {
            Ok::<_, Infallible>(links.get(a).cloned().unwrap_or_default())
        })
        .expect("infallible");
        found.ids().map(|a| a.as_str().to_string()).collect()
    }

    #[test]
    fn an_actor_without_links_is_its_own_class() {
        assert_eq!(class(&[], "hezbollah"), ["hezbollah"]);
        assert_eq!(class(&[("a", "b")], "hezbollah"), ["hezbollah"]);
    }

    #[test]
    fn links_count_both_ways_and_chain() {
        let links = [
            ("cameo-lbnreb", "hezbollah"),
            ("hizbullah-acled", "cameo-lbnreb"),
        ];
        for named in ["hezbollah", "cameo-lbnreb", "hizbullah-acled"] {
            let ids = class(&links, named);
            assert_eq!(ids[0], named, "the actor named comes first");
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(sorted, ["cameo-lbnreb", "hezbollah", "hizbullah-acled"]);
        }
        assert_eq!(
            class(&[("a", "b"), ("c", "d")], "a"),
            ["a", "b"],
            "separate classes stay apart"
        );
    }

    #[test]
    fn cycles_end_and_a_class_is_cut_at_its_limit_nearest_first() {
        assert_eq!(
            class(&[("a", "b"), ("b", "c"), ("c", "a")], "a"),
            ["a", "b", "c"]
        );
        // A chain longer than the limit, named at one end: the nearest links are kept.
        let names: Vec<String> = (0..MAX_CLASS + 10).map(|n| format!("a{n:03}")).collect();
        let pairs: Vec<(&str, &str)> = names
            .windows(2)
            .map(|w| (w[0].as_str(), w[1].as_str()))
            .collect();
        let ids = class(&pairs, "a000");
        assert_eq!(ids.len(), MAX_CLASS);
        assert_eq!(
            ids.last().map(String::as_str),
            Some(names[MAX_CLASS - 1].as_str())
        );
    }

    #[test]
    fn the_store_is_asked_once_per_member_at_most() {
        let links = graph(&[("a", "b"), ("b", "c"), ("a", "c")]);
        let mut asked = 0;
        class_of(id("a"), |a| {
            asked += 1;
            Ok::<_, Infallible>(links.get(a).cloned().unwrap_or_default())
        })
        .expect("infallible");
        assert_eq!(asked, 3);
    }
}
