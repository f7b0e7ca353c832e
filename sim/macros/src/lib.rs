//! `#[joinsim_sim::test]`: an `async fn` over a simulated [`World`] becomes a `#[test]` that runs
//! it on every seed of the environment (`JOINSIM_SEED`, `JOINSIM_TEST_SEEDS`), with every safety
//! checker on and the replay line printed on failure. Use it through `joinsim_sim::test`; the
//! runner is `joinsim_sim::test_runner::run`.
//!
//! [`World`]: https://docs.rs/joinsim-sim

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token};

/// Turns `async fn NAME(world: World) { ... }` into a seeded simulation test.
///
/// Options, all optional: `nodes = N` (nodes `n1..nN`, every one seeded with `n1`; 1..=64,
/// default 3) and `seeds = K` (seeds run when neither `JOINSIM_SEED` nor `JOINSIM_TEST_SEEDS` is
/// set; 1..=1000, default 32). The safety checkers are always on: a violation fails the seed.
///
/// Errors (at compile time): a function that is not `async`, that takes other than one
/// argument, or an unknown option.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = match Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse(attr) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let mut nodes: Option<u64> = None;
    let mut seeds: Option<u64> = None;
    for option in options {
        let value = match &option.value {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => match i.base10_parse::<u64>() {
                Ok(v) => v,
                Err(e) => return e.to_compile_error().into(),
            },
            other => {
                return syn::Error::new_spanned(other, "expected an integer")
                    .to_compile_error()
                    .into()
            }
        };
        if option.path.is_ident("nodes") {
            nodes = Some(value);
        } else if option.path.is_ident("seeds") {
            seeds = Some(value);
        } else {
            return syn::Error::new_spanned(
                &option.path,
                "unknown option: expected `nodes = N` or `seeds = K`",
            )
            .to_compile_error()
            .into();
        }
    }
    let function = parse_macro_input!(item as ItemFn);
    if function.sig.asyncness.is_none() {
        return syn::Error::new_spanned(
            function.sig.fn_token,
            "#[joinsim_sim::test] needs an `async fn NAME(world: World)`",
        )
        .to_compile_error()
        .into();
    }
    if function.sig.inputs.len() != 1 {
        return syn::Error::new_spanned(
            &function.sig.inputs,
            "#[joinsim_sim::test] functions take exactly one argument, the `World`",
        )
        .to_compile_error()
        .into();
    }
    let name = &function.sig.ident;
    let attrs = &function.attrs;
    let vis = &function.vis;
    let mut body_fn = function.clone();
    body_fn.attrs.clear();
    body_fn.sig.ident = syn::Ident::new("__joinsim_body", name.span());
    let nodes = nodes.unwrap_or(3) as usize;
    let seeds = seeds.unwrap_or(0);
    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #body_fn
            ::joinsim_sim::test_runner::run(
                ::joinsim_sim::test_runner::TestOptions {
                    name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    nodes: #nodes,
                    default_seeds: #seeds,
                },
                __joinsim_body,
            );
        }
    }
    .into()
}
