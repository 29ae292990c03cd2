//! A corpus of real λProlog: list operations, a family tree, n-queens, and
//! a type checker for the simply typed λ-calculus, each with queries and
//! their expected answers; and hazards, queries that abort the Lean
//! runtime, run for ever or run out of fuel. Used by the `elpi_batch`
//! example and the tests.

/// What a query should give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// These solutions, in this order, each as `(variable, value)` pairs
    /// as ELPI prints them; `&[]` for a query that has no solution.
    Solutions(&'static [&'static [(&'static str, &'static str)]]),
    /// The engine refuses the query with an error of this kind.
    Error(&'static str),
    /// The query aborts the Lean runtime (a stack overflow).
    Abort,
    /// The query runs for ever: only the request timeout ends it.
    Runaway,
}

/// One query of a program.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The query.
    pub query: &'static str,
    /// Fuel for it, if any.
    pub fuel: Option<u64>,
    /// What it should give.
    pub expected: Expected,
}

/// A program and its queries.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Its name.
    pub name: &'static str,
    /// Its source.
    pub source: &'static str,
    /// Its queries.
    pub cases: &'static [Case],
}

const fn case(
    query: &'static str,
    expected: &'static [&'static [(&'static str, &'static str)]],
) -> Case {
    Case {
        query,
        fuel: None,
        expected: Expected::Solutions(expected),
    }
}

/// List operations.
pub const LISTS: Program = Program {
    name: "lists",
    source: "pred app i:list int, i:list int, o:list int.
app [] L L.
app [X|Xs] L [X|R] :- app Xs L R.
pred rev i:list int, o:list int.
rev L R :- rev.acc L [] R.
pred rev.acc i:list int, i:list int, o:list int.
rev.acc [] A A.
rev.acc [X|Xs] A R :- rev.acc Xs [X|A] R.
pred len i:list int, o:int.
len [] 0.
len [_|Xs] N :- len Xs M, N is M + 1.
pred in i:list int, o:int.
in [X|_] X.
in [_|Xs] X :- in Xs X.
",
    cases: &[
        case("app [1,2] [3,4] R", &[&[("R", "[1, 2, 3, 4]")]]),
        case("rev [1,2,3] R", &[&[("R", "[3, 2, 1]")]]),
        case("len [5,6,7] N", &[&[("N", "3")]]),
        case(
            "in [1,2,3] X",
            &[&[("X", "1")], &[("X", "2")], &[("X", "3")]],
        ),
        case("app [1] [2] [3]", &[]),
    ],
};

/// A family tree.
pub const FAMILY: Program = Program {
    name: "family",
    source: "kind person type.
type alice, bob, carol, dave, eve person.
pred parent o:person, o:person.
parent alice bob.
parent alice carol.
parent bob dave.
parent dave eve.
pred ancestor o:person, o:person.
ancestor X Y :- parent X Y.
ancestor X Y :- parent X Z, ancestor Z Y.
pred sibling i:person, o:person.
sibling X Y :- parent P X, parent P Y, not (X = Y).
",
    cases: &[
        case(
            "ancestor X eve",
            &[&[("X", "dave")], &[("X", "alice")], &[("X", "bob")]],
        ),
        case("sibling bob S", &[&[("S", "carol")]]),
        case("ancestor eve X", &[]),
    ],
};

/// The n-queens puzzle, by permutation and check.
pub const QUEENS: Program = Program {
    name: "queens",
    source: "pred select i:list int, o:int, o:list int.
select [X|Xs] X Xs.
select [Y|Ys] X [Y|Zs] :- select Ys X Zs.
pred perm i:list int, o:list int.
perm [] [].
perm L [X|P] :- select L X R, perm R P.
pred noattack i:int, i:list int, i:int.
noattack _ [] _.
noattack Q [Q1|Qs] D :- A is Q1 - Q, B is Q - Q1, not (A = D), not (B = D), D1 is D + 1, noattack Q Qs D1.
pred safe i:list int.
safe [].
safe [Q|Qs] :- noattack Q Qs 1, safe Qs.
pred queens i:list int, o:list int.
queens L Qs :- perm L Qs, safe Qs.
",
    cases: &[
        case("queens [1,2,3,4] Qs", &[&[("Qs", "[2, 4, 1, 3]")], &[("Qs", "[3, 1, 4, 2]")]]),
        case(
            "queens [1,2,3,4,5,6] Qs",
            &[
                &[("Qs", "[2, 4, 6, 1, 3, 5]")],
                &[("Qs", "[3, 6, 2, 5, 1, 4]")],
                &[("Qs", "[4, 1, 5, 2, 6, 3]")],
                &[("Qs", "[5, 3, 1, 6, 4, 2]")],
            ],
        ),
        case("queens [1,2,3] Qs", &[]),
    ],
};

/// A type checker for the simply typed λ-calculus, with binders as λProlog
/// functions (higher-order abstract syntax).
pub const STLC: Program = Program {
    name: "stlc",
    source: "kind tm type.
type app tm -> tm -> tm.
type lam (tm -> tm) -> tm.
kind ty type.
type arr ty -> ty -> ty.
type nat ty.
pred of i:tm, o:ty.
of (app M N) B :- of M (arr A B), of N A.
of (lam F) (arr A B) :- pi x\\ of x A => of (F x) B.
",
    cases: &[
        case("of (lam x\\ x) T", &[&[("T", "arr X0 X0")]]),
        case("of (lam x\\ lam y\\ x) (arr nat (arr nat nat))", &[&[]]),
        case("of (lam x\\ app x x) T", &[]),
        case(
            "of (lam f\\ lam x\\ app f (app f x)) T",
            &[&[("T", "arr (arr X0 X0) (arr X0 X0)")]],
        ),
    ],
};

/// Queries that misbehave: a list so long that building it overflows the
/// Lean runtime's stack (it aborts the process), a loop without fuel (it
/// runs for ever), the same loop with fuel (an error), and a type error.
pub const HAZARDS: Program = Program {
    name: "hazards",
    source: "pred mk i:int, o:list int.
mk 0 [].
mk N [N|L] :- N > 0, M is N - 1, mk M L.
pred loop.
loop :- loop.
",
    cases: &[
        case("mk 3 L", &[&[("L", "[3, 2, 1]")]]),
        Case {
            query: "mk 200000 L",
            fuel: None,
            expected: Expected::Abort,
        },
        Case {
            query: "loop",
            fuel: Some(1_000),
            expected: Expected::Error("fuel"),
        },
        Case {
            query: "mk \"three\" L",
            fuel: None,
            expected: Expected::Error("type"),
        },
        Case {
            query: "loop",
            fuel: None,
            expected: Expected::Runaway,
        },
    ],
};

/// Every program of the corpus, the hazards last.
pub const ALL: [Program; 5] = [LISTS, FAMILY, QUEENS, STLC, HAZARDS];

/// A program with 100,000 solutions found without deep recursion: every
/// five-digit number.
pub const DIGITS: Program = Program {
    name: "digits",
    source: "pred digit o:int.
digit 0. digit 1. digit 2. digit 3. digit 4. digit 5. digit 6. digit 7. digit 8. digit 9.
pred five o:int.
five N :- digit A, digit B, digit C, digit D, digit E, N is A * 10000 + B * 1000 + C * 100 + D * 10 + E.
pred unit o:int.
unit 1.
",
    cases: &[],
};

impl Program {
    /// The session key for this program.
    pub fn key(&self) -> crate::ElpiProgram {
        crate::ElpiProgram::new(self.name, self.source)
    }
}
