use std::fmt::Debug;
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Names the warm state a child holds: the modules a prover imported, the
/// model an inference worker loaded.
///
/// Any type that is cloneable, hashable, comparable and serializable is a
/// session key; keys are compared exactly (`Eq`), and sent to the child as
/// JSON when a session is opened. `()` serves pools whose children hold no
/// per-key state.
///
/// ```
/// use bulkhead::pool::SessionKey;
///
/// #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
/// struct Imports(Vec<String>);
///
/// fn takes_key<K: SessionKey>(_key: K) {}
/// takes_key(Imports(vec!["Mathlib.Data.Nat".into()]));
/// takes_key(String::from("model-a"));
/// ```
pub trait SessionKey:
    Clone + Eq + Hash + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<K> SessionKey for K where
    K: Clone + Eq + Hash + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}
