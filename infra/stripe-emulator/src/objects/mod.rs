//! Products, prices and shipping rates: their parameters and their JSON, one file an object (their
//! stored form is in [`crate::model`]); `fields` (ids, amounts, currencies) and `list`
//! (pagination) are shared below them all.

mod fields;
mod list;
mod price;
mod price_data;
mod prices;
mod product;
mod shipping_rate;

pub use crate::model::{Interval, Price, Product, Recurring, ShippingRate};
pub use fields::{check_range, new_id, parse_currency, ID_LEN, MAX_UNIT_AMOUNT};
pub use list::{render_list, Page};
pub use price::render_price;
pub use price_data::{PriceData, ProductRef};
pub use prices::{create_price, list_prices, update_price};
pub use product::{create_product, render_product, update_product};
pub use shipping_rate::render_shipping_rate;
