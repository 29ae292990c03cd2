//! Expanding `#[derive(Command)]` into `Command` and
//! `UnaryCommand`/`StreamCommand` impls.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, Generics, Ident, LitStr, Type};

use crate::attr::{Attrs, Kind, Shape};
use crate::case::snake_case;
use crate::errors::Errors;

/// Expands the derive.
///
/// Attribute mistakes come out as `compile_error!`s next to a best-effort
/// impl (default name, `()` for a missing type), so that code using the type
/// is not hit by a second wave of errors.
///
/// Types that are not serde-serializable are not checked here: the impls
/// carry the user's tokens with their spans (and, for generic types, bounds
/// spanned at those tokens), so rustc's "the trait bound `X: Serialize` is
/// not satisfied" points at `X` in the attribute or at the request type's
/// name.
pub(crate) fn derive(input: &DeriveInput, root: &TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if let Data::Union(data) = &input.data {
        errors.push(syn::Error::new(
            data.union_token.span,
            "a command cannot be a union; use a struct or an enum",
        ));
        return errors.into_compile_errors();
    }
    let attrs = Attrs::parse(&input.attrs, &mut errors);
    let name = match &attrs.name {
        Some(name) => LitStr::new(&name.value.value(), name.value.span()),
        None => LitStr::new(&snake_case(&input.ident.to_string()), input.ident.span()),
    };
    let shape = attrs.shape(&mut errors);
    let impls = impls(input, &name, &shape, root);
    let errors = errors.into_compile_errors();
    quote! {
        #impls
        #errors
    }
}

/// The trait impls for `shape`.
fn impls(input: &DeriveInput, name: &LitStr, shape: &Shape, root: &TokenStream) -> TokenStream {
    let unit: Type = syn::parse_quote!(());
    let output = shape.output.as_ref().unwrap_or(&unit);
    let row = match &shape.kind {
        Kind::Stream(row) => Some(&**row),
        Kind::Unary | Kind::CommandOnly => None,
    };

    let ident = &input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let where_clause = where_clause(&input.generics, ident, output, row, root);

    let command = quote! {
        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #root::Command for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            type Output = #output;
        }
    };
    let kind = match row {
        None if matches!(shape.kind, Kind::CommandOnly) => quote!(),
        None => quote! {
            #[automatically_derived]
            #[allow(unused_qualifications)]
            impl #impl_generics #root::UnaryCommand for #ident #ty_generics #where_clause {}
        },
        Some(row) => quote! {
            #[automatically_derived]
            #[allow(unused_qualifications)]
            impl #impl_generics #root::StreamCommand for #ident #ty_generics #where_clause {
                type Row = #row;
            }
        },
    };
    quote! {
        #command
        #kind
    }
}

/// The user's where clause plus, for a generic type, what the impls need.
///
/// Like serde's derives, a generic request is bounded on what the impl needs
/// (`Self: Serialize + ...`, and the same for an output or row type that
/// mentions a type parameter) instead of asking the user to repeat the bounds
/// on the parameters. Each bound is spanned at the type it constrains. A
/// non-generic type gets no extra bounds: an unsatisfied one would fail at
/// every use of the type as well as at the definition.
fn where_clause(
    generics: &Generics,
    ident: &Ident,
    output: &Type,
    row: Option<&Type>,
    root: &TokenStream,
) -> TokenStream {
    let mut predicates: Vec<TokenStream> = generics
        .where_clause
        .iter()
        .flat_map(|w| w.predicates.iter())
        .map(ToTokens::to_token_stream)
        .collect();
    if !generics.params.is_empty() {
        let span = ident.span();
        let serde = serde_path(span, root);
        predicates.push(quote_spanned! {span=>
            Self: #serde::Serialize + #serde::de::DeserializeOwned
                + ::core::marker::Send + ::core::marker::Sync + 'static
        });
    }
    let params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    for ty in std::iter::once(output).chain(row) {
        if mentions_any(ty.to_token_stream(), &params) {
            let span = ty.span();
            let serde = serde_path(span, root);
            predicates.push(quote_spanned! {span=>
                #ty: #serde::Serialize + #serde::de::DeserializeOwned
                    + ::core::marker::Send + 'static
            });
        }
    }
    if predicates.is_empty() {
        quote!()
    } else {
        quote!(where #(#predicates,)*)
    }
}

/// Whether `tokens` contain one of the identifiers in `params`.
fn mentions_any(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => params.iter().any(|p| **p == ident),
        TokenTree::Group(group) => mentions_any(group.stream(), params),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// Where generated code finds serde, spanned for error messages: re-exported
/// by the crate at `root`, so the user's crate needs no serde path of its
/// own.
fn serde_path(span: Span, root: &TokenStream) -> TokenStream {
    quote_spanned!(span=> #root::__private::serde)
}
