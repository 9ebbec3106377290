// Drives a Ruche server with the official Pipedrive JavaScript client (npm `pipedrive`, API v2).
// BASE_URL (ending in /api/v2) and API_TOKEN come from the environment. Prints one JSON line with
// what it saw; exits 1 on the first failure, with the server's error body.
'use strict';
const {
  Configuration, DealsApi, DealProductsApi, OrganizationsApi, PersonsApi, ProductsApi, StagesApi,
  PipelinesApi,
} = require('pipedrive/v2');

const config = new Configuration({ apiKey: process.env.API_TOKEN, basePath: process.env.BASE_URL });
const deals = new DealsApi(config);
const dealProducts = new DealProductsApi(config);

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function listAllPages(filters) {
  const ids = [];
  let cursor;
  let pages = 0;
  do {
    const page = await deals.getDeals({ ...filters, limit: 1, ...(cursor ? { cursor } : {}) });
    check(page.success === true, 'getDeals succeeds');
    ids.push(...page.data.map((deal) => deal.id));
    cursor = page.additional_data.next_cursor;
    pages += 1;
  } while (cursor && pages < 100);
  return { ids, pages };
}

async function main() {
  const pipelines = (await new PipelinesApi(config).getPipelines({})).data;
  const stages = (await new StagesApi(config).getStages({ pipeline_id: pipelines[0].id })).data;
  const [firstStage, secondStage] = stages;

  const org = (await new OrganizationsApi(config).addOrganization({
    AddOrganizationRequest: { name: 'Boulangerie Martin', address: { value: '12 rue de la Paix, Paris', locality: 'Paris', country: 'FR' } },
  })).data;
  const person = (await new PersonsApi(config).addPerson({
    AddPersonRequest: {
      name: 'Claire Martin', org_id: org.id,
      emails: [{ value: 'claire@boulangerie-martin.fr', primary: true, label: 'work' }],
      phones: [{ value: '+33 1 23 45 67 89', primary: true, label: 'work' }],
    },
  })).data;
  const product = (await new ProductsApi(config).addProduct({
    AddProductRequest: { name: 'Four à sole', code: 'FS-1', unit: 'pièce', tax: 20, prices: [{ currency: 'EUR', price: 100 }] },
  })).data;
  const deal = (await deals.addDeal({
    AddDealRequest: { title: 'Four pour Boulangerie Martin', org_id: org.id, person_id: person.id, stage_id: firstStage.id, currency: 'EUR' },
  })).data;
  const other = (await deals.addDeal({
    AddDealRequest: { title: 'Second four', org_id: org.id, stage_id: firstStage.id, owner_id: deal.owner_id },
  })).data;

  await dealProducts.addDealProduct({ id: deal.id, AddDealProductRequest: { product_id: product.id, item_price: 100, quantity: 2 } });
  await dealProducts.addDealProduct({
    id: deal.id,
    AddDealProductRequest: { product_id: product.id, item_price: 80, quantity: 1, discount: 10, discount_type: 'percentage', tax: 20, tax_method: 'exclusive' },
  });
  const lines = (await dealProducts.getDealProducts({ id: deal.id })).data;

  const byStage = await listAllPages({ stage_id: firstStage.id });
  const byOwner = await listAllPages({ owner_id: deal.owner_id, stage_id: firstStage.id });

  await deals.updateDeal({ id: deal.id, UpdateDealRequest: { stage_id: secondStage.id } });
  await deals.updateDeal({ id: deal.id, UpdateDealRequest: { status: 'won' } });
  const final = (await deals.getDeal({ id: deal.id })).data;

  console.log(JSON.stringify({
    deal_id: deal.id, other_id: other.id, org_id: org.id, person_id: person.id,
    product_id: product.id, second_stage_id: secondStage.id,
    line_sums: lines.map((line) => line.sum), by_stage: byStage, by_owner: byOwner,
    final: { value: final.value, status: final.status, stage_id: final.stage_id, probability: final.probability, won_time: final.won_time },
  }));
}

main().catch((error) => {
  console.error(JSON.stringify(error && error.success === false ? error : { message: String(error) }));
  process.exit(1);
});
